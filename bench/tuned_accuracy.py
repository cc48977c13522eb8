"""Accuracy of a new sweep against a committed one, paired by run (issue "One Method object", item 4): did making tuned
runs cheap cost accuracy?

Both files are results CSVs of `gnnic sweep` (one row per run). Runs are paired on (method, protocol, rate,
labelled-set draw, seed): the same seed draws the same split and the same labelled nodes in both, so each pair
differs only in the code that fitted it. Per method × protocol × rate: the old and new mean test accuracy, the mean paired difference (new − old) with its
95% t-interval over seeds, and a verdict against the issue's targets: the mean difference ≥ −1 point and the interval
not entirely below 0 ('ok'), else 'DROP'; 'better' where the whole interval is above 0. CPU seconds per run (mean) of
both files are printed beside it; they were measured by the sweeps themselves (two worker processes, one torch thread
each), at different times, so they are indicative only: `bench/train_tuned.py` measures time properly, both codes in
one run.

    gnnic sweep --preset full --dataset digits_cnn --label-rates 0.01 0.05 1 --protocols budget --workers 2 --out /tmp/acc_cnn
    python bench/tuned_accuracy.py /tmp/acc_cnn/results.csv nbs/results/digits_cnn.csv

Not a test: it reports, it does not assert.
"""
import argparse, sys
import numpy as np, pandas as pd
from scipy import stats

KEY = ['method', 'protocol', 'rate', 'draw', 'seed']


def paired(new:pd.DataFrame, old:pd.DataFrame) -> pd.DataFrame:
    "One row per method × protocol × rate: means, the paired difference and its 95% CI (points), CPU seconds, verdict."
    both = new[KEY + ['test_acc', 'cpu_seconds']].merge(old[KEY + ['test_acc', 'cpu_seconds']], on=KEY, suffixes=('_new', '_old'))
    rows = []
    for (m, p, r), g in both.groupby(['method', 'protocol', 'rate'], sort=False):
        d = (g.test_acc_new - g.test_acc_old).to_numpy() * 100
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 and d.std() > 0 else 0.
        lo, hi = d.mean() - half, d.mean() + half
        verdict = 'DROP' if d.mean() < -1 or hi < 0 else 'better' if lo > 0 else 'ok'
        rows.append(dict(method=m, protocol=p, rate=r, n=len(d), old=g.test_acc_old.mean(), new=g.test_acc_new.mean(),
                         diff=d.mean(), lo=lo, hi=hi, cpu_old=g.cpu_seconds_old.mean(), cpu_new=g.cpu_seconds_new.mean(), verdict=verdict))
    return pd.DataFrame(rows)


def markdown(t:pd.DataFrame) -> str:
    "The table as markdown."
    head = '| method | protocol | rate | seeds | old | new | new − old, pts [95% CI] | CPU s old → new | verdict |\n|---|---|---|---|---|---|---|---|---|\n'
    return head + ''.join(f"| {r.method} | {r.protocol} | {r.rate:g} | {r.n} | {r.old:.3f} | {r.new:.3f} | {r.diff:+.1f} [{r.lo:+.1f}, {r.hi:+.1f}] "
                          f"| {r.cpu_old:.1f} → {r.cpu_new:.1f} | {r.verdict} |\n" for r in t.itertuples())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('new', help='results CSV of the new code'); ap.add_argument('old', help='committed results CSV to compare with')
    a = ap.parse_args(argv)
    new, old = (f.assign(draw=f['draw'].fillna('stratified') if 'draw' in f else 'stratified')  # rows from before draws
                for f in (pd.read_csv(a.new), pd.read_csv(a.old)))
    t = paired(new, old)
    if t.empty: sys.exit(f"no run of {a.new} pairs with one of {a.old} on {', '.join(KEY)}")
    print(markdown(t))
    print(f"{(t.verdict != 'DROP').sum()} of {len(t)} method × rate cells meet the target (mean ≥ −1 pt, CI not below 0); "
          f"better: {', '.join(f'{r.method} {r.rate:g}' for r in t[t.verdict == 'better'].itertuples()) or 'none'}; "
          f"drops: {', '.join(f'{r.method} {r.rate:g}' for r in t[t.verdict == 'DROP'].itertuples()) or 'none'}")


if __name__ == '__main__': main()
