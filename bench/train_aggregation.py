"""Benchmark GNN training by aggregation path (issue 13, item 1): PyG's scatter (the peer) against the
sparse CSR and dense adjacency products and the complement's (a rank-one matrix minus the sparse missing edges;
`aggr='auto'` picks one by density; see nbs/05_models.ipynb), each case in its own process; then the whole `reference` preset through `gnnic run`.

Training cases: the reference's GraphSAGE (`sage_ref`: 512-256-128-4, Adam lr 5e-4, 100 epochs, validation every 10)
and GCN / GIN with the same sizes and schedule, on synthetic class-structured L2-normalised 512-d embeddings of 2,000
nodes in 4 classes (bench/graph_build.py's), on two graphs: `complete` (every ordered pair, 3,998,000 directed edges,
cosine weights clamped at 0: the reference's band graphs at their lowest thresholds) and `knn10` (a 10-NN cosine
graph, 20,000 edges). The clock covers `fit_tasks` (building the adjacency, 100 epochs, the evaluations), not the
imports or the data. On the complete graph the scatter path takes seconds *per epoch*, so it runs `--scatter-epochs`
epochs (default 5) and its time is scaled to 100 epochs: the ratio column says so with a `~`. It also gathers one
512-float message per edge (8 GiB at N = 2,000), so it is skipped, saying so, when that is over half the available
memory; `--n 1000 --graphs complete` gives the same comparison at a quarter of the memory.

Reference preset: a 2,000 × 512 embeddings CSV (4 classes) written with `write_embeddings_csv`, then
`gnnic run --preset reference --embeddings that.csv --workers 2` (5 metrics × 6 threshold rules × 5 seeds of
`sage_ref` on band graphs, plus 5 `mlp_ref` runs); `--preset-metrics cosine` times a subset (one metric, every
threshold) and `--preset-seeds 1` one seed; the table then also gives the whole preset extrapolated by the number of
`sage_ref` runs.

    python bench/train_aggregation.py --preset-peer /tmp/peer            # everything, the preset also with the code of a checkout at /tmp/peer (~40 min idle)
    python bench/train_aggregation.py                                    # everything without the preset's peer, about 15-20 min on an idle 2-core machine
    python bench/train_aggregation.py --no-preset                        # the training cases only (about 3-5 min)
    python bench/train_aggregation.py --no-train --preset-metrics cosine # the preset on one metric
    python bench/train_aggregation.py --no-train --preset-peer /path/to/other/checkout  # the preset, and the same with other code (the peer)

Per case: wall and CPU seconds, peak RSS (above the start of the measurement for training cases; the largest process's
peak for the preset), the ratio against the scatter path measured in the same run, the load average before and after.
Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations
import argparse, json, os, resource, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_build import make_embeddings, _rss_mib, in_child

MODELS = ('sage_ref', 'gcn', 'gin')
GRAPHS = ('complete', 'knn10')
PATHS = ('scatter', 'auto', 'sparse', 'dense', 'complement')
SCHEDULE = dict(epochs=100, patience=None, eval_every=10, lr=5e-4, dropout=0.)  # sage_ref's, for GCN and GIN too


def _graph(x, kind):
    "PyG `Data` of the case's graph on embeddings `x`."
    import torch
    from torch_geometric.data import Data
    from gnn_image_classification.graph import knn_graph
    if kind == 'knn10': return knn_graph(x, metric='cosine', k=10)
    n = len(x); i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing='ij'); keep = i != j
    ei = torch.stack([i[keep], j[keep]]); xt = torch.as_tensor(x)
    return Data(x=xt, edge_index=ei, edge_weight=(xt @ xt.T)[keep].clamp_min(0))


def run_case(case):
    "One training measurement in this process (imports, data and task first; then the clock starts)."
    import numpy as np, torch
    torch.set_num_threads(case['threads'])
    from gnn_image_classification.methods import make_task, fit_tasks
    from gnn_image_classification.data import split_indices
    x, y = make_embeddings(case['n'], case['dim'], classes=case['classes'])
    g = _graph(x, case['graph']); g.y = torch.as_tensor(y); split = split_indices(y, seed=0)
    task = make_task(g, split['train'], split['val'], split['test'], device='cpu')
    hp = dict(SCHEDULE, epochs=case['epochs']) if case['model'] != 'sage_ref' else dict(epochs=case['epochs'])
    base = _rss_mib(); ru = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
    r = fit_tasks(case['model'], [task], 0, aggr=case['path'], **hp)[0]
    t1 = time.perf_counter(); ru1 = resource.getrusage(resource.RUSAGE_SELF)
    return dict(seconds=t1 - t0, cpu_seconds=ru1.ru_utime + ru1.ru_stime - ru.ru_utime - ru.ru_stime,
                peak_over_start_mib=_rss_mib('VmHWM') - base, used=r.hparams['aggr'], n_edges=int(g.edge_index.shape[1]),
                val_acc=r.val_acc)


def run_preset(a, tmp, code=None):
    "Time `gnnic run --preset reference` on a synthetic CSV of the reference's size (with the package at `code` first on the path); a result row."
    import numpy as np, pandas as pd
    from gnn_image_classification.data import EmbeddingSet, write_embeddings_csv
    x, y = make_embeddings(a.n, a.dim, classes=a.classes)
    csv = os.path.join(tmp, 'reference_synthetic.csv')
    write_embeddings_csv(EmbeddingSet(x, y, [f'class{c}' for c in range(a.classes)], [f'img{i:05d}.jpg' for i in range(a.n)], 'synthetic'), csv)
    out = os.path.join(tmp, 'preset_out' + ('_peer' if code else ''))
    cmd = [sys.executable, '-c', 'import sys; from gnn_image_classification.cli import main; sys.exit(main())', 'run', '--preset', 'reference',
           '--embeddings', csv, '--workers', str(a.workers), '--out', out, '--no-progress']
    if a.preset_metrics: cmd += ['--metrics', *a.preset_metrics]
    if a.preset_seeds: cmd += ['--seeds', str(a.preset_seeds)]
    env = dict(os.environ); env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    if code: env['PYTHONPATH'] = os.pathsep.join([code, env.get('PYTHONPATH', '')])
    l0 = os.getloadavg()[0]; ru = resource.getrusage(resource.RUSAGE_CHILDREN); t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    t1 = time.perf_counter(); ru1 = resource.getrusage(resource.RUSAGE_CHILDREN); l1 = os.getloadavg()[0]
    if p.returncode: return dict(error=(p.stderr or p.stdout).strip().splitlines()[-1][:300], load=(l0, l1))
    df = pd.read_csv(os.path.join(out, 'results.csv'))
    sr = df[df.method == 'sage_ref']
    used = sr.hparams.map(lambda h: json.loads(h).get('aggr')).value_counts().to_dict()
    return dict(seconds=t1 - t0, cpu_seconds=ru1.ru_utime + ru1.ru_stime - ru.ru_utime - ru.ru_stime, peak_mib=ru1.ru_maxrss / 1024,
                load=(l0, l1), runs=len(df), sage_runs=len(sr), sage_mean_s=float(sr.seconds.mean()), sage_max_s=float(sr.seconds.max()),
                sage_cpu_s=float(sr.cpu_seconds.sum()), edges_median=float(sr.n_edges.median()), edges_max=float(sr.n_edges.max()),
                density_median=float(sr.n_edges.median()) / (a.n * (a.n - 1)), used=used)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    ap.add_argument('--graphs', nargs='+', default=list(GRAPHS), choices=GRAPHS)
    ap.add_argument('--paths', nargs='+', default=list(PATHS), choices=PATHS, help='aggregation paths timed (scatter is the peer)')
    ap.add_argument('--epochs', type=int, default=100)
    ap.add_argument('--scatter-epochs', type=int, default=5, help='epochs of the scatter peer on the complete graph (scaled to --epochs)')
    ap.add_argument('--threads', type=int, default=2, help='torch threads per training case (default 2: the 2-core target)')
    ap.add_argument('--n', type=int, default=2000)
    ap.add_argument('--dim', type=int, default=512)
    ap.add_argument('--classes', type=int, default=4)
    ap.add_argument('--no-train', action='store_true', help='skip the training cases')
    ap.add_argument('--no-preset', action='store_true', help='skip the reference preset')
    ap.add_argument('--preset-metrics', nargs='+', help='time the preset on these metrics only (default: all five)')
    ap.add_argument('--preset-seeds', type=int, help='time the preset with this many seeds only (default: all five)')
    ap.add_argument('--workers', type=int, default=2, help='gnnic run --workers')
    ap.add_argument('--preset-peer', metavar='CHECKOUT', help='also time the preset with the package of this checkout (e.g. the code before), first, as the peer')
    ap.add_argument('--timeout', type=int, default=3600)
    ap.add_argument('--case', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case: print(json.dumps(run_case(json.loads(a.case)))); return
    print(f"cores: {os.cpu_count()}  load average at start: {os.getloadavg()}  N={a.n} d={a.dim} classes={a.classes} threads={a.threads}", flush=True)
    tmp = tempfile.mkdtemp(prefix='aggbench'); rows = []
    if not a.no_train:
        for graph in a.graphs:
            for model in a.models:
                for path in a.paths:
                    ep = a.scatter_epochs if path == 'scatter' and graph == 'complete' else a.epochs
                    if path == 'scatter' and graph == 'complete' and _scatter_bytes(a) > _available() / 2:
                        print(f"  {graph:<9} {model:<9} {path:<8} skipped: scatter holds one {a.dim}-float message per edge, "
                              f"{_scatter_bytes(a) / 2**30:.1f} GiB, over half the {_available() / 2**30:.1f} GiB available", flush=True); continue
                    case = dict(model=model, graph=graph, path=path, epochs=ep, threads=a.threads, n=a.n, dim=a.dim, classes=a.classes)
                    r = dict(case, **in_child(__file__, case, a.timeout)); rows.append(r)
                    if 'error' in r: print(f"  {graph:<9} {model:<9} {path:<8} ERROR {r['error']}", flush=True); continue
                    print(f"  {graph:<9} {model:<9} {path:<8} ({r['used']:<7}) {ep:>4} epochs {r['seconds']:8.2f} s wall {r['cpu_seconds']:8.2f} s CPU "
                          f"peak +{r['peak_over_start_mib']:.0f} MiB  load {r['load'][0]:.2f}→{r['load'][1]:.2f}", flush=True)
        _train_table(rows, a.epochs)
    if not a.no_preset:
        peer = run_preset(a, tmp, a.preset_peer) if a.preset_peer else None
        r = run_preset(a, tmp)
        for name, x in (('peer', peer), ('ours', r)):
            if x is not None and 'error' in x: print(f"preset ({name}) ERROR {x['error']}"); return
        _preset_table(r, a, peer)
    print(f"\nload average at end: {os.getloadavg()}")


def _scatter_bytes(a): return a.n * (a.n - 1) * a.dim * 4  # the first layer's gathered messages (its backward holds as much)


def _available():
    "MemAvailable from /proc/meminfo, in bytes."
    return next(int(l.split()[1]) * 1024 for l in open('/proc/meminfo') if l.startswith('MemAvailable'))


def _train_table(rows, epochs):
    "Markdown table of the training cases, each scaled to `epochs` epochs, with the ratio to scatter in the same run."
    print(f"\n| graph | model | path (used) | edges | wall s / {epochs} ep | CPU s / {epochs} ep | peak RSS +MiB | ÷ scatter, wall (CPU) | load before→after |")
    print('|---|---|---|---:|---:|---:|---:|---:|---|')
    peer = {(r['graph'], r['model']): r for r in rows if r['path'] == 'scatter' and 'error' not in r}
    for r in rows:
        if 'error' in r: continue
        f = epochs / r['epochs']; p = peer.get((r['graph'], r['model'])); approx = '~' if (f != 1 or (p and p['epochs'] != epochs)) else ''
        ratio = (f"{approx}{r['seconds'] * f / (p['seconds'] * epochs / p['epochs']):.3f} ({r['cpu_seconds'] * f / (p['cpu_seconds'] * epochs / p['epochs']):.3f})"
                 if p else '')
        print(f"| {r['graph']} | {r['model']} | {r['path']} ({r['used']}) | {r['n_edges']:,} | {approx}{r['seconds'] * f:.2f} | {approx}{r['cpu_seconds'] * f:.2f} | "
              f"{r['peak_over_start_mib']:.0f} | {ratio} | {r['load'][0]:.2f}→{r['load'][1]:.2f} |")
    print("(~: scaled from the epochs actually run; the scatter peer on the complete graph runs --scatter-epochs epochs)")


def _preset_table(r, a, peer=None):
    full = 150  # sage_ref runs of the whole preset: 5 metrics × 6 rules (4 classes) × 5 seeds
    print(f"\n`gnnic run --preset reference --workers {a.workers}` on a synthetic {a.n} × {a.dim}, {a.classes}-class CSV"
          + (f" (metrics: {' '.join(a.preset_metrics)})" if a.preset_metrics else '') + (f" (seeds: {a.preset_seeds})" if a.preset_seeds else ''))
    print('| code | runs | sage_ref runs | wall s | CPU s | largest process peak RSS, MiB | sage_ref s per run, mean (max) | band edges, median (max) | paths used | ÷ peer, wall (CPU) | load before→after |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|')
    for name, x in ((f"peer ({a.preset_peer})", peer), ('this checkout', r)):
        if x is None: continue
        ratio = f"{x['seconds'] / peer['seconds']:.3f} ({x['cpu_seconds'] / peer['cpu_seconds']:.3f})" if peer else ''
        print(f"| {name} | {x['runs']} | {x['sage_runs']} | {x['seconds']:.0f} | {x['cpu_seconds']:.0f} | {x['peak_mib']:.0f} | {x['sage_mean_s']:.2f} ({x['sage_max_s']:.2f}) | "
              f"{x['edges_median']:,.0f} ({x['edges_max']:,.0f}) | {x['used']} | {ratio} | {x['load'][0]:.2f}→{x['load'][1]:.2f} |")
    if r['sage_runs'] < full:
        f = full / r['sage_runs']
        print(f"whole preset extrapolated by sage_ref runs ({r['sage_runs']} → {full}): ≈ {r['seconds'] * f:.0f} s wall, {r['cpu_seconds'] * f:.0f} s CPU "
              "(the 5 mlp_ref runs and the report counted once per subset, so this slightly overstates)")


if __name__ == '__main__':
    main()
