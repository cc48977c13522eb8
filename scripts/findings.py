"""Regenerate the README's findings and figures from the results files committed in nbs/results/.

Every number in the findings section of nbs/index.ipynb (and so of README.md) and every figure it shows come from
  nbs/results/<dataset>.csv          the label-rate sweep: budget, oracle and full, and the labelled-set draws
  nbs/results/<dataset>_default.csv  the default preset: every training label, defaults untuned
for the datasets digits and digits_cnn, all written by `python scripts/regenerate.py` (which runs this script last).
This script rewrites the block between <!-- findings --> and <!-- /findings --> in index.ipynb and redraws
nbs/images/forest.png, nbs/images/<dataset>_rates.png and nbs/images/<dataset>_default.png.

Usage: python scripts/findings.py [--check]
  (--check: exit 1 if the index's block is out of date; figures are not redrawn)
"""
import json, re, sys, warnings
from pathlib import Path
import numpy as np, pandas as pd
warnings.filterwarnings('ignore')
from gnn_image_classification.comparisons import _pct, _pts, answer, primary, primary_table, primary_draws, compare
from gnn_image_classification.experiments import read_results
root = Path(__file__).resolve().parent.parent
RES, IMG, NB = root / 'nbs' / 'results', root / 'nbs' / 'images', root / 'nbs' / 'index.ipynb'
DATASETS = {'digits': "scikit-learn's 8×8 digits as 64 raw grey levels",
            'digits_cnn': 'the same digits embedded by pretrained EfficientNet-Lite0 (1280-d)'}


def load():
    "Each dataset's sweep and default results that exist, as {dataset: (sweep, default)}."
    out = {}
    for ds in DATASETS:
        f, d = RES / f'{ds}.csv', RES / f'{ds}_default.csv'
        out[ds] = tuple(read_results(p) if p.exists() else None for p in (f, d))
    return out


def _ci(lo, hi): return f"[{_pts(lo)}, {_pts(hi)}]" if not np.isnan(lo) else '—'


def primary_lines(t):
    "The primary comparison's table, stratified draw, one row per dataset × protocol × rate."
    rows = ['| dataset | protocol | labels | graph method (seeds it was chosen) | accuracy | non-graph method '
            '(seeds) | accuracy | difference, pts [95% CI] | p (Holm) | seeds | seeds for 3 pts |',
            '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in t.itertuples():
        need = '' if np.isnan(r.seeds_3pts) else f"{int(r.seeds_3pts)}"
        rows.append(f"| {r.dataset.split('|')[0]} | {r.protocol} | {_pct(r.rate)} | {r.graph} ({r.graph_n}) | "
                    f"{r.graph_acc:.3f} | {r.baseline} ({r.baseline_n}) | {r.baseline_acc:.3f} | {_pts(r.diff)} "
                    f"{_ci(r.ci_lo, r.ci_hi)} | {r.p_holm:.2g} | {r.n} | {need} |")
    return rows


def _span(lo, hi, f='{:.0f}'):
    "'3 to 5', or '3' when both ends read the same."
    return f.format(lo) if f.format(lo) == f.format(hi) else f"{f.format(lo)} to {f.format(hi)}"


def power_line(t):
    "The power statement over the rates <= 10%."
    low = t[(t.rate <= 0.1) & t.seeds_3pts.notna()]
    if low.empty: return ''
    short = low[low.seeds_3pts > low.n]
    s = (f"**Power.** At label rates up to 10% the per-seed differences of the primary comparison spread by "
         f"{_span(low.sd.min() * 100, low.sd.max() * 100, '{:.1f}')} points (standard deviation), so a 3-point "
         f"difference is detected with 80% power by {_span(low.seeds_3pts.min(), low.seeds_3pts.max())} seeds "
         f"(`seeds_needed`); {_span(low.n.min(), low.n.max())} were run. ")
    if short.empty: return s + 'Every row up to 10% has the seeds it needs.'
    return s + 'Short of that: ' + '; '.join(f"{r.dataset.split('|')[0]} {r.protocol} {_pct(r.rate)} ({r.n} run, "
                                            f"{int(r.seeds_3pts)} needed, where the difference measured is "
                                            f"{_pts(r.diff)} points)" for r in short.itertuples()) + '.'


def draw_lines(prim):
    "The labelled-set draws against `stratified`, for the primary comparison's choices, paired by seed."
    d = primary_draws(prim)
    if d.empty: return []
    rows = ['| dataset | labels | draw | graph choice | minus stratified, pts [95% CI] | non-graph choice | '
            'minus stratified, pts [95% CI] | graph − non-graph, pts | p (Holm) | seeds |',
            '|---|---|---|---|---|---|---|---|---|---|']
    for r in d.itertuples():
        rows.append(f"| {r.dataset.split('|')[0]} | {_pct(r.rate)} | {r.draw} | {r.graph_acc:.3f} | "
                    f"{_pts(r.graph_vs)} "
                    f"{_ci(r.graph_lo, r.graph_hi)} | {r.baseline_acc:.3f} | {_pts(r.baseline_vs)} "
                    f"{_ci(r.baseline_lo, r.baseline_hi)} | {_pts(r.diff)} | {r.p_holm:.2g} | {r.n} |")
    return rows


def cost_line(loaded):
    "What the results cost, and how much of the regeneration is still missing."
    sys.path.insert(0, str(root / 'scripts'))
    from regenerate import todo
    left, total = todo()
    frames = [f for pair in loaded.values() for f in pair if f is not None]
    cpu = sum(f.cpu_seconds.sum() for f in frames) / 3600
    s = (f"These {sum(map(len, frames)):,} runs took {cpu:.1f} CPU-hours of fitting (their recorded `cpu_seconds`; "
         f"graphs, data and the analysis aside).")
    return s if not left else s + (f" *The regeneration is not complete: {left:,} of its {total:,} runs are still "
                                   f"to run (`python scripts/regenerate.py` resumes it); the rows above hold what has "
                                   f"run.*")


def block(loaded):
    prims = [primary(s.assign(dataset=ds)) for ds, (s, _) in loaded.items() if s is not None]  # the file's name
    prim = pd.concat(prims, ignore_index=True) if prims else pd.DataFrame()
    t = primary_table(prim) if len(prim) else pd.DataFrame()
    strat = t[t.draw == 'stratified'] if len(t) else t
    body = ['<!-- findings: generated by scripts/findings.py from nbs/results/*.csv; do not edit by hand -->',
            'The question is asked the way a user meets it: the tool chooses a graph method (among GCN, GraphSAGE, GIN, '
            'GAT, SGC, APPNP, label propagation and C&S) and a non-graph method (among the MLP, logistic regression and '
            'k-NN) by their recorded selection scores, per seed, and the two are compared paired by seed, Holm-adjusted '
            'across the label rates of one dataset and protocol. Under `budget` the scores are cross-validation inside '
            'the labelled images, the only labels a user has; under `oracle` they are accuracies on the 180-image '
            'validation split (an upper bound). With one label per class nothing can be cross-validated and each '
            "family's default meets: label propagation against logistic regression. The rule was fixed before these "
            'results were run ([Comparisons](15_comparisons.ipynb)).', '']
    if len(strat):
        body += ['**The answer.**', '', *[f'- {s}' for s in answer(strat).values()], '',
                 '![Paired difference, chosen graph method minus chosen non-graph method, with 95% CI per label '
                 'rate; one panel per dataset and protocol, from nbs/results/](images/forest.png)', '',
                 *primary_lines(strat), '', power_line(strat), '']
    if len(draws := draw_lines(prim)):
        body += ['**Which images were labelled.** On `digits_cnn` at 1–5% labels, the same number of labels drawn '
                 '`random`ly (ignoring the classes) or chosen by `typiclust` (`gnnic select`\'s default, no labels '
                 'needed) instead of one per class (`stratified`, which needs the labels it draws): the primary '
                 "comparison's choices on each draw minus the same seed's `stratified` draw, and the primary "
                 'comparison within the draw (Holm across its rates).', '', *draws, '']
    for ds, (sweep, dflt) in loaded.items():
        figs = []
        if sweep is not None:
            figs.append(f'![Accuracy against label rate on {ds}, every method, from nbs/results/{ds}.csv]'
                        f'(images/{ds}_rates.png)')
        if dflt is not None:
            figs.append(f'![Test accuracy by method on {ds} with every training label, from nbs/results/'
                        f'{ds}_default.csv](images/{ds}_default.png)')
        if figs: body += [f'**`{ds}`**, {DATASETS[ds]}: every method, secondary to the answer above.', '', *figs, '']
    body += [cost_line(loaded), '']
    return prim, t, '\n'.join(body + ['<!-- /findings -->'])


def figures(loaded, t):
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    from gnn_image_classification.analysis import plot_methods
    from gnn_image_classification.report_plots import plot_label_rate, plot_forest
    IMG.mkdir(exist_ok=True)
    if len(t): plt.close(plot_forest(t, IMG / 'forest.png'))
    for ds, (sweep, dflt) in loaded.items():
        if sweep is not None: plt.close(plot_label_rate(sweep[sweep.draw == 'stratified'], IMG / f'{ds}_rates.png'))
        if dflt is not None: plt.close(plot_methods(dflt, IMG / f'{ds}_default.png'))


def main():
    loaded = load()
    prim, t, new = block(loaded)
    nb = json.loads(NB.read_text())
    pat, hit = re.compile(r'<!-- findings.*?<!-- /findings -->', re.S), False
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown' and pat.search(src):
            hit, upd = True, pat.sub(lambda m: new, src)
            if '--check' in sys.argv:
                if upd != src: sys.exit('nbs/index.ipynb findings are out of date: run python scripts/findings.py')
                return
            c['source'] = upd.splitlines(True)
    if not hit: sys.exit('no <!-- findings --> block in nbs/index.ipynb')
    if '--check' in sys.argv: return
    NB.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    figures(loaded, t)
    print(f'updated {NB} and the figures in {IMG}')


if __name__ == '__main__': main()
