"""Class balance in label propagation and C&S (issue "Few labels, many images", item 4): which prior for class mass
normalisation (Zhu, Ghahramani & Lafferty 2003), measured.

On `digits_cnn` (1,797 digits, pretrained EfficientNet-Lite0, cosine 10-NN graph), 10 seeded splits; each seed draws the
split (`split_indices(y, seed=s)`) and the labelled set: `random N` draws N labels uniformly from the training split
(`np.random.default_rng(s)`, classes may be missing or unequal), `stratified r` is the experiments' draw
(`experiments.subsample_labels`, one per class at 1 %). Budget protocol, each method's defaults (no grid), every
`balance` setting on the same draws: 'none' (before), 'uniform' (the default), 'labelled' (Zhu et al.'s prior). Mean
test accuracy ± standard deviation over seeds, and the paired difference uniform − none with its 95 % t-interval.

`--imbalanced` repeats it on a subset whose classes shrink geometrically (178 down to 24 images, 7.4 : 1), where a
uniform prior is wrong by construction: the cost of assuming balance.

    python bench/class_balance.py [--imbalanced] [--seeds 10]

Not a test: it reports, it does not assert. About 2 CPU-minutes (C&S trains an MLP per draw).
"""
import argparse, time, warnings
import numpy as np, pandas as pd, torch
from scipy import stats
from gnn_image_classification.cache import load_digits_cnn_embeddings
from gnn_image_classification.graph import knn_graph
from gnn_image_classification.data import split_indices
from gnn_image_classification.experiments import subsample_labels
from gnn_image_classification.methods import fit_method

DRAWS = ('random 10', 'random 20', 'random 50', 'stratified 0.01', 'stratified 0.02', 'stratified 0.05')
BALANCE = ('none', 'uniform', 'labelled')


def draw(y, train, how:str, seed:int):
    "The labelled nodes of one draw."
    kind, n = how.split()
    if kind == 'random': return np.sort(np.random.default_rng(seed).choice(train, int(n), replace=False))
    return subsample_labels(y, train, float(n), seed)


def run(es, seeds:int) -> pd.DataFrame:
    "One row per method × draw × seed × balance: the test accuracy."
    g = knn_graph(es.x, k=10, metric='cosine'); g.y = torch.as_tensor(es.y); rows = []
    for how in DRAWS:
        for s in range(seeds):
            split = split_indices(es.y, seed=s); lab = draw(es.y, split['train'], how, s); memo = {}  # C&S: one MLP per draw
            for m in ('labelprop', 'cs'):
                for b in BALANCE:
                    r = fit_method(m, g, split, lab, s, 'budget', device='cpu', n_classes=es.n_classes, memo=memo, balance=b)
                    rows.append(dict(method=m, draw=how, seed=s, balance=b, acc=r.test_acc, classes=len(np.unique(es.y[lab]))))
    return pd.DataFrame(rows)


def summary(df:pd.DataFrame) -> pd.DataFrame:
    "Per method × draw: mean ± sd of each balance, and uniform − none paired over seeds (points, 95 % CI)."
    out = []
    for (m, how), d in df.groupby(['method', 'draw'], sort=False):
        acc = d.pivot(index='seed', columns='balance', values='acc')
        diff = (acc['uniform'] - acc['none']).to_numpy() * 100
        half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)) if diff.std() > 0 else 0.
        out.append(dict(method=m, draw=how, **{b: f"{acc[b].mean():.3f} ± {acc[b].std(ddof=1):.3f}" for b in BALANCE},
                        **{'uniform − none (pts)': f"{diff.mean():+.1f} [{diff.mean() - half:+.1f}, {diff.mean() + half:+.1f}]"},
                        classes_labelled=d.classes.mean()))
    return pd.DataFrame(out)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--imbalanced', action='store_true'); ap.add_argument('--seeds', type=int, default=10)
    a = ap.parse_args(); torch.set_num_threads(1); warnings.filterwarnings('ignore')
    es = load_digits_cnn_embeddings(progress=False)
    if a.imbalanced:
        rng = np.random.default_rng(0)
        es = es.subset(np.sort(np.concatenate([rng.permutation(np.flatnonzero(es.y == c))[:round(180 * 0.8 ** c)] for c in range(10)])))
    t0, c0 = time.perf_counter(), time.process_time()
    print(f"{'imbalanced ' if a.imbalanced else ''}digits_cnn: {len(es)} images, class sizes {np.bincount(es.y).tolist()}, {a.seeds} seeds\n")
    print(summary(run(es, a.seeds)).to_string(index=False))
    print(f"\n{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s")
