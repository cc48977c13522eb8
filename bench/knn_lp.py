"""Benchmark exact L1 (city block) and L∞ (max norm) kNN search (issue 13, item 3), each case in its own process:
ours (each pair of tiles once, on every core; the compiled kernel where the work repays compiling it), ours without
compiling (`GNNIC_LP_KERNEL=numpy`), our previous row-block schedule, and FAISS flat search with `METRIC_L1` /
`METRIC_Linf`. Plus the first L1/L∞ (and cosine) kNN *graph* at N = 2,000 in a fresh process, timed after the imports,
with an empty inductor cache (`TORCHINDUCTOR_CACHE_DIR` set to a new folder), so no compile is warm.

Measured per case: wall and CPU seconds, peak RSS above the start of the measurement, the load average before and
after. Synthetic L2-normalised 512-d embeddings with class structure (bench/graph_build.py's).

    python bench/knn_lp.py                              # N = 20,000 (FAISS METRIC_Linf alone takes minutes)
    python bench/knn_lp.py --cases ours faiss --metrics cityblock

Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations
import argparse, json, os, resource, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_build import make_embeddings, _rss_mib, in_child

CASES = ('ours', 'ours_nocompile', 'ours_rows', 'faiss')


def run_case(case):
    "One measurement in this process (imports first, then the clock starts)."
    import numpy as np, torch
    from gnn_image_classification.graph import knn_search, knn_graph
    x = np.load(case['data']); n, d = x.shape; k = case['k']; what, metric = case['what'], case['metric']
    if what == 'faiss': import faiss
    base = _rss_mib(); ru = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
    if what == 'first_graph': knn_graph(x, metric, k)
    elif what in ('ours', 'ours_nocompile'): knn_search(x, metric, k)
    elif what == 'ours_rows': knn_search(x, metric, k, schedule='rows')
    else:
        ix = faiss.IndexFlat(d, faiss.METRIC_L1 if metric == 'cityblock' else faiss.METRIC_Linf); ix.add(x); ix.search(x, k + 1)
    t1 = time.perf_counter(); ru1 = resource.getrusage(resource.RUSAGE_SELF)
    return dict(seconds=t1 - t0, cpu_seconds=ru1.ru_utime + ru1.ru_stime - ru.ru_utime - ru.ru_stime,
                peak_over_start_mib=_rss_mib('VmHWM') - base)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', nargs='+', type=int, default=[20_000])
    ap.add_argument('--first-size', type=int, default=2000, help='N of the fresh-process first-graph cases (0: skip them)')
    ap.add_argument('--metrics', nargs='+', default=['cityblock', 'maxnorm'])
    ap.add_argument('--cases', nargs='+', default=list(CASES), choices=CASES)
    ap.add_argument('--faiss-metrics', nargs='+', default=['cityblock', 'maxnorm'],
                    help="metrics FAISS is timed on (METRIC_Linf at N=20,000 takes minutes; the L∞ target compares with METRIC_L1's time)")
    ap.add_argument('--k', type=int, default=10)
    ap.add_argument('--dim', type=int, default=512)
    ap.add_argument('--timeout', type=int, default=3600)
    ap.add_argument('--case', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case: print(json.dumps(run_case(json.loads(a.case)))); return
    import numpy as np
    print(f"cores: {os.cpu_count()}  load average at start: {os.getloadavg()}  k={a.k} d={a.dim}", flush=True)
    tmp = tempfile.mkdtemp(prefix='lpbench'); rows = []

    def rec(n, what, metric, r):
        rows.append(dict(n=n, what=what, metric=metric, **r))
        if 'error' in r: print(f"  {n:>7} {what:<15} {metric:<10} ERROR {r['error']}", flush=True); return
        print(f"  {n:>7} {what:<15} {metric:<10} {r['seconds']:8.2f} s wall  {r['cpu_seconds']:8.2f} s CPU  peak +{r['peak_over_start_mib']:.0f} MiB  "
              f"load {r['load'][0]:.2f}→{r['load'][1]:.2f}", flush=True)

    if a.first_size:
        x, _ = make_embeddings(a.first_size, a.dim); data = os.path.join(tmp, 'first.npy'); np.save(data, x)
        for metric in [*a.metrics, 'cosine']:
            cache = tempfile.mkdtemp(prefix='inductor', dir=tmp)  # a cold compile cache for this process
            rec(a.first_size, 'first_graph', metric, in_child(__file__, dict(data=data, k=a.k, what='first_graph', metric=metric), a.timeout,
                                                            dict(TORCHINDUCTOR_CACHE_DIR=cache)))
    for n in a.sizes:
        x, _ = make_embeddings(n, a.dim); data = os.path.join(tmp, f'x{n}.npy'); np.save(data, x)
        for metric in a.metrics:
            for what in a.cases:
                if what == 'faiss' and metric not in a.faiss_metrics: continue
                env = dict(GNNIC_LP_KERNEL='numpy') if what == 'ours_nocompile' else None
                rec(n, what, metric, in_child(__file__, dict(data=data, k=a.k, what=what, metric=metric), a.timeout, env))
    print(f"\nload average at end: {os.getloadavg()}\n")
    print('| N | method | metric | wall s | CPU s | peak RSS above start, MiB | ÷ FAISS METRIC_L1, wall (CPU) | ÷ FAISS, same metric | load avg before→after |')
    print('|---:|---|---|---:|---:|---:|---:|---:|---|')
    get = lambda **kw: next((r for r in rows if all(r.get(q) == v for q, v in kw.items()) and 'error' not in r), None)
    for r in rows:
        if 'error' in r: continue
        l1, same = get(n=r['n'], what='faiss', metric='cityblock'), get(n=r['n'], what='faiss', metric=r['metric'])
        rl1 = f"{r['seconds'] / l1['seconds']:.2f} ({r['cpu_seconds'] / l1['cpu_seconds']:.2f})" if l1 else ''
        rs = f"{r['seconds'] / same['seconds']:.2f}" if same else ''
        print(f"| {r['n']:,} | {r['what']} | {r['metric']} | {r['seconds']:.3g} | {r['cpu_seconds']:.3g} | {r['peak_over_start_mib']:.0f} | {rl1} | {rs} | "
              f"{r['load'][0]:.2f}→{r['load'][1]:.2f} |")


if __name__ == '__main__': main()
