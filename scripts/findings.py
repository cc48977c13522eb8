"""Regenerate the README's numbers and figures from the results files committed in nbs/results/.

Every number in the findings section of nbs/index.ipynb (and so of README.md) and every figure it shows come from
  nbs/results/default_digits.csv        written by `gnnic` (the default preset, 5 seeds)
  nbs/results/sweep_full_digits.csv     written by `gnnic sweep --preset full --workers 2`
  nbs/results/default_digits_cnn.csv    written by `gnnic --dataset digits_cnn`
  nbs/results/sweep_digits_cnn.csv      written by `gnnic sweep --preset full --dataset digits_cnn --label-rates 0.01 0.02 0.05 0.1 1 --protocols budget --workers 2`
This script rewrites the block between <!-- findings --> and <!-- /findings --> in index.ipynb and redraws
nbs/images/default_<dataset>_methods.png and nbs/images/<sweep file>.png.

Usage: python scripts/findings.py [--check]   (--check: exit 1 if the index's block is out of date; figures are not redrawn)
"""
import json, re, sys, warnings
from pathlib import Path
import numpy as np, pandas as pd
warnings.filterwarnings('ignore')
from gnn_image_classification.report import _pts  # accuracy points, '+1.3'
root = Path(__file__).resolve().parent.parent
RES, IMG, NB = root / 'nbs' / 'results', root / 'nbs' / 'images', root / 'nbs' / 'index.ipynb'

def _ci(m, h): return f"{m:.3f} (95% CI {m - h:.3f}–{m + h:.3f})"

def default_block(df, cmd='gnnic'):
    from gnn_image_classification.analysis import summarise
    from gnn_image_classification.report import compare
    s = summarise(df); cmp = compare(df)
    rows = ['| method | test accuracy, mean ± std | 95% CI | minus MLP, paired by seed [95% CI] |', '|---|---|---|---|']
    for _, r in s.iterrows():
        vs = '' if np.isnan(r.vs_base) else f"{_pts(r.vs_base)} [{_pts(r.vs_base - r.vs_base_ci)}, {_pts(r.vs_base + r.vs_base_ci)}] pts"
        rows.append(f"| {r.label} | {r['mean']:.3f} ± {r['std']:.3f} | {r['mean'] - r.ci95:.3f}–{r['mean'] + r.ci95:.3f} | {vs} |")
    wins = cmp[cmp.verdict == 'better'].groupby('method').size(); nb = cmp.baseline.nunique()
    allb = [m for m in wins.index if wins[m] == nb]
    vs_mlp = cmp[(cmp.baseline == 'mlp') & (cmp.verdict == 'better')].method.tolist()
    best_b = s[s.graph == ''].iloc[0]
    text = (f"In the default experiment (`{cmd}`, {df.seed.nunique()} seeds, every training label, each method with its documented defaults, "
            f"early-stopped on validation), {len(vs_mlp)} of {cmp.method.nunique()} graph configurations beat the MLP after Holm's adjustment; "
            f"against all three non-graph baselines, {len(allb)} do{(': ' + ', '.join(allb)) if allb else ''}. The strongest non-graph baseline, "
            f"{best_b.label}, reaches {_ci(best_b['mean'], best_b.ci95)}.")
    return text, '\n'.join(rows)

def sweep_block(df):
    from gnn_image_classification.analysis import summarise
    from gnn_image_classification.report import compare
    cmp = compare(df); s = summarise(df); out = []
    protos = [p for p in ('budget', 'oracle') if p in set(cmp.protocol)]
    for proto in protos:
        c = cmp[cmp.protocol == proto]; nb = c.baseline.nunique(); parts = []
        for rate, cr in c.groupby('rate'):
            wins = cr[cr.verdict == 'better'].groupby('method').size()
            allb = [m for m in wins.index if wins[m] == nb]
            parts.append(f"{rate * 100:g}%: {', '.join(allb) if allb else 'none'}")
        out.append(f"- **`{proto}`**: graph methods better than every non-graph baseline after Holm, by label rate: " + '; '.join(parts) + '.')
    for proto in protos:
        c = cmp[cmp.protocol == proto]; cl = c[c.rate == min(df.rate)]; top = cl.loc[cl['diff'].idxmax()]
        sig = c[c.verdict != 'n.s.']
        sig_s = '; '.join(f"{r.method.split(' ')[0]} {'>' if r.verdict == 'better' else '<'} {r.baseline} at {r.rate * 100:g}% ({_pts(r['diff'])} pts)" for _, r in sig.iterrows())
        out.append(f"- `{proto}`, in numbers: at {min(df.rate) * 100:g}% labels {(cl.verdict_unadjusted == 'better').sum()} of {len(cl)} graph-vs-baseline "
                   f"comparisons favour the graph before adjustment, the largest by {_pts(top['diff'])} points ({top.method.split(' ')[0]} vs {top.baseline}, "
                   f"unadjusted p = {top.p:.2g}). After Holm over the protocol's {len(c)} comparisons, {len(sig)} {'remains' if len(sig) == 1 else 'remain'} significant"
                   + (f": {sig_s}" if len(sig) else '') + '.')
    low = min(df.rate); lines = []
    for proto in protos:
        sp = s[(s.protocol == proto) & (s.rate == low)]
        g, b = sp[sp.graph != ''].iloc[0], sp[sp.graph == ''].iloc[0]
        lines.append(f"under `{proto}` the best graph method, {g.label}, reaches {_ci(g['mean'], g.ci95)} and the best non-graph baseline, "
                     f"{b.label}, {_ci(b['mean'], b.ci95)}")
    head = (f"With one label per class ({low * 100:g}% of the training split, {int(df[df.rate == low].n_labelled.iloc[0])} labels), "
            f"{'; '.join(lines)} (means over {df.seed.nunique()} seeds; the best by test mean, for description only).")
    return head, '\n'.join(out)

DATASETS = [  # (dataset, what its features are, default-preset results, sweep results)
    ('digits', "scikit-learn's 8×8 digits as 64 raw grey levels", 'default_digits.csv', 'sweep_full_digits.csv'),
    ('digits_cnn', 'the same digits embedded by pretrained EfficientNet-Lite0 (1280-d)', 'default_digits_cnn.csv', 'sweep_digits_cnn.csv')]

def figures(loaded):
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    from gnn_image_classification.analysis import plot_methods
    from gnn_image_classification.report import plot_label_rate
    IMG.mkdir(exist_ok=True)
    for name, dflt, sweep, sweep_file in loaded:
        plt.close(plot_methods(dflt, IMG / f'default_{name}_methods.png')); plt.close(plot_label_rate(sweep, IMG / sweep_file.replace('.csv', '.png')))

def _section(name, what, dflt, sweep, sweep_file):
    (t1, table), (t2, verd) = default_block(dflt, 'gnnic' + ('' if name == 'digits' else f' --dataset {name}')), sweep_block(sweep)
    protos = ' and '.join(f'`{p}`' for p in ('budget', 'oracle') if p in set(sweep.protocol))
    rates = ', '.join(f'{r * 100:g}%' for r in sorted(sweep.rate.unique()))
    return [f'### `{name}`: {what}', '',
        '**With every training label.** ' + t1, '', table, '',
        f'![Test accuracy by method on {name}, mean and 95% CI over 5 seeds, from nbs/results/default_{name}.csv](images/default_{name}_methods.png)', '',
        f'**With few labels, and an honest budget** (label rates {rates}; protocol{"s" if " and " in protos else ""} {protos}). ' + t2, '', verd, '',
        f'![Accuracy against label rate, from nbs/results/{sweep_file}](images/{sweep_file.replace(".csv", ".png")})', '']

def block():
    loaded = [(n, pd.read_csv(RES / d), pd.read_csv(RES / sw), sw) for n, _, d, sw in DATASETS]
    body = ['<!-- findings: generated by scripts/findings.py from nbs/results/*.csv; do not edit by hand -->',
        'Under `budget` the methods see only their labelled nodes: tuning and the stopping epoch come from cross-validation inside them. '
        'Under `oracle` they are tuned on the whole 180-image validation split, which a user with that few labels does not have: '
        'the upper bound Planetoid-style papers report.', '']
    for (n, what, _, _), (_, dflt, sweep, sw) in zip(DATASETS, loaded): body += _section(n, what, dflt, sweep, sw)
    return loaded, '\n'.join(body + ['<!-- /findings -->'])

def main():
    loaded, new = block()
    nb = json.loads(NB.read_text()); pat = re.compile(r'<!-- findings.*?<!-- /findings -->', re.S); hit = False
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown' and pat.search(src):
            hit = True; upd = pat.sub(lambda m: new, src)
            if '--check' in sys.argv:
                if upd != src: print('nbs/index.ipynb findings are out of date: run python scripts/findings.py'); sys.exit(1)
                return
            c['source'] = upd.splitlines(True)
    if not hit: print('no <!-- findings --> block in nbs/index.ipynb'); sys.exit(1)
    if '--check' in sys.argv: return
    NB.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n'); figures(loaded)
    print(f'updated {NB} and the figures in {IMG}')

if __name__ == '__main__': main()
