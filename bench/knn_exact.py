"""Benchmark exact cosine kNN search (issue 13, item 2): ours (the upper-triangular block schedule) against FAISS
`IndexFlatIP`, a plain torch matmul loop, and our previous row-block schedule, each case in its own process.

Synthetic L2-normalised 512-d embeddings with class structure (as in bench/graph_build.py). Every case loads the same
.npy, warms up on 300 rows, then is measured: wall and CPU seconds, peak RSS above the loaded data (VmHWM − VmRSS at
the start of the measurement), and the load average (1 min) just before and after the case. The machine may be shared:
CPU seconds are less sensitive to other load than wall seconds, so ratios are printed for both.

    python bench/knn_exact.py                       # N = 100,000 (about 4 minutes on 2 idle cores)
    python bench/knn_exact.py --sizes 20000 --repeat 2

Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations
import argparse, json, os, resource, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_build import make_embeddings, _rss_mib, in_child

CASES = ('ours', 'faiss_flat', 'torch_loop', 'ours_rows')


def run_case(case):
    "One measurement in this process."
    import numpy as np, torch
    x = np.load(case['data']); n, d = x.shape; k = case['k']; what = case['what']
    from gnn_image_classification.knn import knn_search
    if what == 'faiss_flat': import faiss
    warm = x[:300]
    if what.startswith('ours'): knn_search(warm, 'cosine', k, schedule='rows' if what == 'ours_rows' else 'auto')
    elif what == 'faiss_flat': ix = faiss.IndexFlatIP(d); ix.add(warm); ix.search(warm, k + 1)
    else: torch.mm(torch.from_numpy(warm), torch.from_numpy(warm).T).topk(k + 1, 1)
    base = _rss_mib(); ru = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
    if what == 'ours': nb, _ = knn_search(x, 'cosine', k)
    elif what == 'ours_rows': nb, _ = knn_search(x, 'cosine', k, schedule='rows')
    elif what == 'faiss_flat':  # rows are unit vectors: inner product = cosine; k+1 because each row finds itself
        ix = faiss.IndexFlatIP(d); ix.add(x); _, I = ix.search(x, k + 1); nb = I
    else:  # the plain loop: 4096 rows at a time against all, torch fp32 mm, top-(k+1)
        xt = torch.from_numpy(x); nb = torch.cat([torch.mm(xt[s:s + 4096], xt.T).topk(k + 1, 1).indices for s in range(0, n, 4096)])
    t1 = time.perf_counter(); ru1 = resource.getrusage(resource.RUSAGE_SELF); peak = _rss_mib('VmHWM')
    if case.get('save'): np.save(case['save'], np.asarray(nb))
    return dict(seconds=t1 - t0, cpu_seconds=ru1.ru_utime + ru1.ru_stime - ru.ru_utime - ru.ru_stime,
                peak_over_start_mib=peak - base, threads=torch.get_num_threads())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', nargs='+', type=int, default=[100_000])
    ap.add_argument('--k', type=int, default=10)
    ap.add_argument('--dim', type=int, default=512)
    ap.add_argument('--cases', nargs='+', default=list(CASES), choices=CASES)
    ap.add_argument('--repeat', type=int, default=1, help='measure every case this many times (interleaved)')
    ap.add_argument('--timeout', type=int, default=3600)
    ap.add_argument('--case', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case: print(json.dumps(run_case(json.loads(a.case)))); return
    import numpy as np
    print(f"cores: {os.cpu_count()}  load average at start: {os.getloadavg()}  k={a.k} d={a.dim}", flush=True)
    tmp = tempfile.mkdtemp(prefix='knnbench'); rows = []
    for n in a.sizes:
        x, _ = make_embeddings(n, a.dim); data = os.path.join(tmp, f'x{n}.npy'); np.save(data, x)
        for rep in range(a.repeat):
            for what in a.cases:
                r = dict(n=n, what=what, rep=rep, **in_child(__file__, dict(data=data, k=a.k, what=what, save=os.path.join(tmp, f'{what}{n}.npy') if rep == 0 else None), a.timeout))
                rows.append(r)
                if 'error' in r: print(f"  {n:>7} {what:<11} ERROR {r['error']}", flush=True); continue
                print(f"  {n:>7} {what:<11} {r['seconds']:8.2f} s wall  {r['cpu_seconds']:8.2f} s CPU  peak +{r['peak_over_start_mib']:.0f} MiB  "
                      f"load {r['load'][0]:.2f}→{r['load'][1]:.2f}", flush=True)
        f = os.path.join(tmp, f'faiss_flat{n}.npy'); o = os.path.join(tmp, f'ours{n}.npy')
        if os.path.exists(f) and os.path.exists(o):  # FAISS's lists include the node itself
            F, O = np.load(f), np.load(o)
            same = np.mean([set(F[i][F[i] != i][:a.k]) == set(O[i]) for i in range(n)])
            print(f"  rows whose neighbour set equals FAISS flat's: {same:.5f}", flush=True)
    print(f"\nload average at end: {os.getloadavg()}\n")
    print('| N | method | wall s | CPU s | peak RSS above start, MiB | ÷ FAISS flat, wall (CPU) | load avg before→after |')
    print('|---:|---|---:|---:|---:|---:|---|')
    for r in rows:
        if 'error' in r: continue
        fs = [q for q in rows if q['n'] == r['n'] and q['what'] == 'faiss_flat' and q['rep'] == r['rep'] and 'error' not in q]
        ratio = f"{r['seconds'] / fs[0]['seconds']:.2f} ({r['cpu_seconds'] / fs[0]['cpu_seconds']:.2f})" if fs else ''
        print(f"| {r['n']:,} | {r['what']} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['peak_over_start_mib']:.0f} | {ratio} | {r['load'][0]:.2f}→{r['load'][1]:.2f} |")


if __name__ == '__main__': main()
