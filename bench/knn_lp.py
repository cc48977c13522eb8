"""Benchmark exact L1 (city block) and L∞ (max norm) kNN search (issue 13, item 3), each case in a fresh process, timed
after the imports with nothing warmed up.

First graph, N = 2,000 (`--first-size`): the first L1 / L∞ kNN *graph* (`knn_graph`) in a fresh process, (a) with an
empty kernel folder (`GNNIC_KERNEL_DIR` a new directory: the C kernel is compiled inside the timing, as on a machine's
very first run), and (b) with the folder that run (a) filled (every later process); against the first cosine graph and
FAISS flat search (`METRIC_L1` / `METRIC_Linf`, k + 1 neighbours) in fresh processes of the same run. Every child also
gets an empty inductor cache (`TORCHINDUCTOR_CACHE_DIR`), so nothing can reuse a torch.compile result.

Large N (`--sizes`, default 20,000): ours (the pair schedule with the C kernel; kernel folder warm), ours with the torch
kernel (`GNNIC_LP_KERNEL=torch`, what a machine without AVX2 or a C compiler runs), our row schedule, and FAISS flat
search with `METRIC_L1` / `METRIC_Linf` (`--faiss-metrics`; METRIC_Linf at N = 20,000 takes minutes).

Per case: wall seconds, CPU seconds of the process *and its children* (a compiler run counts), peak RSS above the start
of the measurement, the 1-minute load average before and after, and ratios against the peers measured in the same run.
Synthetic L2-normalised 512-d embeddings with class structure (bench/graph_build.py's).

    python bench/knn_lp.py --faiss-metrics cityblock         # the issue's table: first graphs + N = 20,000 (≈ 4 min on 2 idle cores)
    python bench/knn_lp.py                                   # the same plus FAISS METRIC_Linf at N = 20,000 (≈ 4 min more)
    python bench/knn_lp.py --sizes --faiss-metrics cityblock # first graphs only (≈ 30 s)
    python bench/knn_lp.py --first-size 0 --cases ours faiss # N = 20,000: ours and FAISS only

Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations
import argparse, json, os, resource, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_build import make_embeddings, _rss_mib, in_child

CASES = ('ours', 'ours_torch', 'ours_rows', 'faiss')


def _cpu():
    "CPU seconds of this process and its finished children (a compiler run is a child)."
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def run_case(case):
    "One measurement in this process (imports first, then the clock starts)."
    import numpy as np, torch
    from gnn_image_classification.graph import knn_graph
    from gnn_image_classification.knn import knn_search
    x = np.load(case['data']); n, d = x.shape; k = case['k']; what, metric = case['what'], case['metric']
    if what.startswith('faiss'): import faiss
    if what == 'build': from gnn_image_classification.knn import _lp_lib; _lp_lib(); return {}
    base = _rss_mib(); c0 = _cpu(); t0 = time.perf_counter()
    if what == 'first_graph': knn_graph(x, metric=metric, k=k)
    elif what in ('ours', 'ours_torch'): knn_search(x, metric, k)
    elif what == 'ours_rows': knn_search(x, metric, k, schedule='rows')
    else:
        ix = faiss.IndexFlat(d, faiss.METRIC_L1 if metric == 'cityblock' else faiss.METRIC_Linf); ix.add(x); ix.search(x, k + 1)
    t1 = time.perf_counter(); c1 = _cpu()
    return dict(seconds=t1 - t0, cpu_seconds=c1 - c0, peak_over_start_mib=_rss_mib('VmHWM') - base)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', nargs='*', type=int, default=[20_000])
    ap.add_argument('--first-size', type=int, default=2000, help='N of the fresh-process first-graph cases (0: skip them)')
    ap.add_argument('--metrics', nargs='+', default=['cityblock', 'maxnorm'])
    ap.add_argument('--cases', nargs='+', default=list(CASES), choices=CASES)
    ap.add_argument('--faiss-metrics', nargs='+', default=['cityblock', 'maxnorm'],
                    help="metrics FAISS is timed on at --sizes (METRIC_Linf at N=20,000 takes minutes; the L∞ target compares with METRIC_L1's time)")
    ap.add_argument('--k', type=int, default=10)
    ap.add_argument('--dim', type=int, default=512)
    ap.add_argument('--timeout', type=int, default=3600)
    ap.add_argument('--case', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case: print(json.dumps(run_case(json.loads(a.case)))); return
    import numpy as np
    print(f"cores: {os.cpu_count()}  load average at start: {os.getloadavg()}  k={a.k} d={a.dim}", flush=True)
    tmp = tempfile.mkdtemp(prefix='lpbench'); rows = []
    kdir = os.path.join(tmp, 'kernels')  # the kernel folder: empty until the first L1/L∞ child builds the C kernel into it

    def child(n, what, metric, data, label=None, fresh_kernels=False, env=None):
        env = dict(env or {}, TORCHINDUCTOR_CACHE_DIR=tempfile.mkdtemp(prefix='inductor', dir=tmp),
                   GNNIC_KERNEL_DIR=tempfile.mkdtemp(prefix='kernels', dir=tmp) if fresh_kernels else kdir)
        r = in_child(__file__, dict(data=data, k=a.k, what=what, metric=metric), a.timeout, env)
        rows.append(dict(n=n, what=label or what, metric=metric, **r))
        if 'error' in r: print(f"  {n:>7} {label or what:<22} {metric:<10} ERROR {r['error']}", flush=True); return
        print(f"  {n:>7} {label or what:<22} {metric:<10} {r['seconds']:8.3f} s wall  {r['cpu_seconds']:8.3f} s CPU  peak +{r['peak_over_start_mib']:.0f} MiB  "
              f"load {r['load'][0]:.2f}→{r['load'][1]:.2f}", flush=True)

    if a.first_size:
        x, _ = make_embeddings(a.first_size, a.dim); data = os.path.join(tmp, 'first.npy'); np.save(data, x)
        child(a.first_size, 'first_graph', 'cosine', data)
        for metric in a.metrics:
            child(a.first_size, 'first_graph', metric, data, 'first_graph_cold_kernel', fresh_kernels=True)
        in_child(__file__, dict(data=data, k=a.k, what='build', metric=''), a.timeout, dict(GNNIC_KERNEL_DIR=kdir))  # fill `kdir`, untimed
        for metric in a.metrics: child(a.first_size, 'first_graph', metric, data)  # loads the kernel: as every later process
        for metric in a.metrics: child(a.first_size, 'faiss', metric, data, 'faiss_first')
    for n in a.sizes:
        x, _ = make_embeddings(n, a.dim); data = os.path.join(tmp, f'x{n}.npy'); np.save(data, x)
        for metric in a.metrics:
            for what in a.cases:
                if what == 'faiss' and metric not in a.faiss_metrics: continue
                child(n, what, metric, data, env=dict(GNNIC_LP_KERNEL='torch') if what == 'ours_torch' else None)
    print(f"\nload average at end: {os.getloadavg()}\n")
    get = lambda **kw: next((r for r in rows if all(r.get(q) == v for q, v in kw.items()) and 'error' not in r), None)
    ratio = lambda r, p: f"{r['seconds'] / p['seconds']:.2f} ({r['cpu_seconds'] / p['cpu_seconds']:.2f})" if p else ''
    print('| N | method | metric | wall s | CPU s | peak RSS above start, MiB | ÷ first cosine graph, wall (CPU) | ÷ FAISS METRIC_L1, wall (CPU) | ÷ FAISS, same metric, wall (CPU) | load avg before→after |')
    print('|---:|---|---|---:|---:|---:|---:|---:|---:|---|')
    for r in rows:
        if 'error' in r: continue
        first = r['n'] == a.first_size and r['what'].startswith(('first', 'faiss_first'))
        fw = 'faiss_first' if first else 'faiss'
        cos = get(n=r['n'], what='first_graph', metric='cosine') if first and r['metric'] != 'cosine' else None
        l1, same = get(n=r['n'], what=fw, metric='cityblock'), get(n=r['n'], what=fw, metric=r['metric'])
        if r['what'] in ('faiss', 'faiss_first'): l1 = same = None
        print(f"| {r['n']:,} | {r['what']} | {r['metric']} | {r['seconds']:.3g} | {r['cpu_seconds']:.3g} | {r['peak_over_start_mib']:.0f} | "
              f"{ratio(r, cos)} | {ratio(r, l1)} | {ratio(r, same)} | {r['load'][0]:.2f}→{r['load'][1]:.2f} |")


if __name__ == '__main__': main()
