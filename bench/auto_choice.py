"""The `auto` method (issue "Few labels, many images", item 3): what its candidates cost, what it chooses, how close it
gets to the best single candidate, and whether its accuracy estimate is honest.

On `digits_cnn` (1,797 digits, pretrained EfficientNet-Lite0, cosine 10-NN graph), each seed draws the split
(`split_indices(y, seed=s)`) and the labelled set: `random N` draws N labels uniformly from the training split,
`stratified r` is the experiments' draw (`experiments.subsample_labels`), `all` is every training label (80 %, the
`full` protocol: what `gnnic fit` does). Per draw and seed, every candidate is fitted alone, tuned (its grid, the
draw's protocol), and `auto` is fitted as a user would call it (`fit_method('auto', ...)`, its own memo), timed in
CPU seconds with one torch and one BLAS thread. Reported per draw: each candidate's mean test accuracy, `auto`'s, the
best single candidate's (chosen by its test mean, which no user can do: the yardstick) and the paired gap to it (points ±
standard error), how often each candidate was
chosen, `auto`'s CPU seconds (mean and max), and its three accuracy numbers: the selection score (`val_acc`, the
winner's CV score: optimistic), the out-of-fold estimate (`estimate['acc']`, budget only) and the test accuracy.

With `--gnn`, GCN and APPNP (tuned) are fitted too, and the choice that `auto` would make with them among its
candidates is read from the recorded scores (the same rule: first best): their accuracy gain against their cost.

    python bench/auto_choice.py [--seeds 10] [--gnn]

Not a test: it reports, it does not assert.
"""
import os
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1'); os.environ.setdefault('OMP_NUM_THREADS', '1')  # threads spin on a busy machine
import argparse, time, warnings
import numpy as np, pandas as pd, torch
from gnn_image_classification.cache import load_digits_cnn_embeddings
from gnn_image_classification.graph import knn_graph
from gnn_image_classification.data import split_indices
from gnn_image_classification.experiments import subsample_labels
from gnn_image_classification.methods import fit_method, GRIDS, AUTO_CANDIDATES, auto_choice

DRAWS = ('random 20', 'random 50', 'stratified 0.02', 'stratified 0.05', 'all')


def draw(y, split, how:str, seed:int):
    "(labelled nodes, protocol) of one draw."
    if how == 'all': return split['train'], 'full'
    kind, n = how.split()
    if kind == 'random': return np.sort(np.random.default_rng(seed).choice(split['train'], int(n), replace=False)), 'budget'
    return subsample_labels(y, split['train'], float(n), seed), 'budget'


def timed(f):
    c0 = time.process_time(); r = f(); return r, time.process_time() - c0


def run(es, seeds:int, extra:tuple) -> pd.DataFrame:
    "One row per draw × seed × method (each candidate alone, `extra` methods, and 'auto')."
    g = knn_graph(es.x, k=10, metric='cosine'); g.y = torch.as_tensor(es.y); rows = []
    for how in DRAWS:
        for s in range(seeds):
            split = split_indices(es.y, seed=s); lab, protocol = draw(es.y, split, how, s)
            n = len(lab) if protocol == 'budget' else len(split['val'])  # the labels behind a selection score
            fit = lambda m, memo, grid=None: fit_method(m, g, split, lab, s, protocol, grid, 'cpu', es.n_classes, memo)
            for m in AUTO_CANDIDATES + extra:
                r, cpu = timed(lambda: fit(m, {}, GRIDS[m]))
                rows.append(dict(draw=how, seed=s, method=m, val_acc=r.val_acc, test_acc=r.test_acc, cpu=cpu, n=n))
            r, cpu = timed(lambda: fit('auto', {}))
            rows.append(dict(draw=how, seed=s, method='auto', val_acc=r.val_acc, test_acc=r.test_acc, cpu=cpu, n=n, chosen=r.hparams['method'],
                             estimate=r.estimate.get('acc', np.nan), est_lo=r.estimate.get('lo', np.nan), est_hi=r.estimate.get('hi', np.nan),
                             folds=r.cv_folds))
            print(f"{how:16s} seed {s}: auto chose {r.hparams['method']:9s} test {r.test_acc:.3f}  {cpu:5.1f} CPU-s", flush=True)
    return pd.DataFrame(rows)


def choose(d:pd.DataFrame, names) -> pd.Series:
    "Per seed, the test accuracy of the candidate among `names` that `auto_choice` picks from the recorded scores."
    sc = d.pivot(index='seed', columns='method', values='val_acc')[list(names)]
    te = d.pivot(index='seed', columns='method', values='test_acc')[list(names)]
    n = d.groupby('seed').n.first()
    return pd.Series([te.loc[i].iloc[auto_choice(sc.loc[i].to_numpy(), n[i])] if not sc.loc[i].isna().all() else te.loc[i, 'labelprop']
                      for i in sc.index], index=sc.index)


def summary(df:pd.DataFrame, extra:tuple) -> pd.DataFrame:
    out = []
    for how, d in df.groupby('draw', sort=False):
        a = d[d.method == 'auto']; alone = d[d.method.isin(AUTO_CANDIDATES)].groupby('method').test_acc.mean()
        best = alone.idxmax(); rec = choose(d, AUTO_CANDIDATES)
        gap = (a.set_index('seed').test_acc - d[d.method == best].set_index('seed').test_acc) * 100  # paired by seed
        row = dict(draw=how, auto=a.test_acc.mean(), replayed=rec.mean(), best_single=f"{best} {alone[best]:.3f}",
                   auto_minus_best=f"{gap.mean():+.1f} ± {gap.std(ddof=1) / np.sqrt(len(gap)):.1f}",
                   **{f'{m}': alone[m] for m in AUTO_CANDIDATES}, chosen=a.chosen.value_counts().to_dict(),
                   cpu_mean=a.cpu.mean(), cpu_max=a.cpu.max(), cpu_candidates=d[d.method.isin(AUTO_CANDIDATES)].groupby('seed').cpu.sum().mean(),
                   score=a.val_acc.mean(), estimate=a.estimate.mean(), test=a.test_acc.mean(),
                   covered=((a.est_lo <= a.test_acc) & (a.test_acc <= a.est_hi))[a.estimate.notna()].mean())
        if extra:
            row['with_gnns'] = choose(d, AUTO_CANDIDATES + extra).mean()
            row['gnn_cpu'] = d[d.method.isin(extra)].groupby('seed').cpu.sum().mean()
            row.update({m: d[d.method == m].test_acc.mean() for m in extra})
        out.append(row)
    return pd.DataFrame(out)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, default=10); ap.add_argument('--gnn', action='store_true')
    ap.add_argument('--out', default=None, help='also write the per-run rows to this CSV')
    a = ap.parse_args(); torch.set_num_threads(1); warnings.filterwarnings('ignore')
    es, extra = load_digits_cnn_embeddings(progress=False), (('gcn', 'appnp') if a.gnn else ())
    t0, c0 = time.perf_counter(), time.process_time()
    df = run(es, a.seeds, extra)
    if a.out: df.to_csv(a.out, index=False)
    with pd.option_context('display.width', 250, 'display.max_columns', 40, 'display.precision', 3):
        print(summary(df, extra).T.to_string())
    print(f"\n{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s")
