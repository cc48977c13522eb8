"""Benchmark graph construction: exact kNN / mutual kNN / threshold graphs for every metric, against the reference repo's
approach, scikit-learn, FAISS and the machine's float32 matmul ceiling.

Every measurement runs in its own subprocess, so its wall time and peak RSS (VmHWM) belong to that case alone. Each
child loads the embeddings from a .npy file and warms up on 300 rows (library start-up; loading, or on a machine's first run building, the C L1/L∞ kernel),
then is measured; peak RSS includes the interpreter, torch (≈0.9 GiB here) and the data, and the log shows it above
that baseline too. Children run with OMP_WAIT_POLICY=PASSIVE unless it is set: on a shared 2-core machine, OpenMP
threads that spin while waiting make small parallel torch ops up to 100× slower (a 40k-element sort took 200 ms instead
of 1 ms here). Wall and CPU seconds are both reported; CPU seconds are less sensitive to other load.

    python bench/graph_build.py                          # N = 2,000, 20,000, 100,000 (about 45 minutes on 2 cores)
    python bench/graph_build.py --sizes 2000 20000       # quicker
    python bench/graph_build.py --sizes 2000 --no-reference

Not a test: timings depend on the machine and its load (the load average is printed with the table).
"""
from __future__ import annotations
import argparse, json, math, os, resource, subprocess, sys, tempfile, time

METRICS = ('cosine', 'euclidean', 'chord', 'cityblock', 'maxnorm')
SK_METRIC = dict(cosine='cosine', euclidean='euclidean', cityblock='manhattan', maxnorm='chebyshev')


def make_embeddings(n, d=512, classes=10, noise=0.1, seed=0):
    "Synthetic L2-normalised embeddings with class structure: a random unit centre per class plus Gaussian noise."
    import numpy as np
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = rng.integers(0, classes, n)
    x = np.empty((n, d), np.float32)
    for s in range(0, n, 10_000):  # in chunks, so generating the data costs no more memory than holding it
        e = min(s + 10_000, n)
        x[s:e] = centres[y[s:e]] + noise * rng.standard_normal((e - s, d), dtype=np.float32)
        x[s:e] /= np.linalg.norm(x[s:e], axis=1, keepdims=True)
    return x, y


def _rss_mib(field='VmRSS'):
    "This process's resident memory (VmRSS) or its peak so far (VmHWM), in MiB."
    # not getrusage's ru_maxrss: Linux carries it over from the parent at fork, so a child would report the parent's peak
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ':')) / 1024



def in_child(script, case:dict, timeout:float, env_extra:dict=None) -> dict:
    "Run `script --case <json>` in a fresh process; its last stdout line as a dict, with the load average before and after."
    import json, os, subprocess, sys
    env = dict(os.environ, **(env_extra or {})); env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    l0 = os.getloadavg()[0]
    p = subprocess.run([sys.executable, script, '--case', json.dumps(case)], capture_output=True, text=True, timeout=timeout, env=env)
    l1 = os.getloadavg()[0]
    if p.returncode: return dict(error=(p.stderr or p.stdout).strip().splitlines()[-1][:200], load=(l0, l1))
    return dict(json.loads(p.stdout.strip().splitlines()[-1]), load=(l0, l1))

def _reference_scores(x, metric, chunk=50):
    "The reference's dense score matrix, from the N × N × d difference tensor (float64), built `chunk` rows at a time so memory stays bounded."
    import numpy as np
    n = len(x); X = x.astype(np.float64); D = np.empty((n, n))
    if metric in ('cosine', 'chord'): U = X / np.linalg.norm(X, axis=1, keepdims=True)
    for s in range(0, n, chunk):
        if metric == 'cosine': D[s:s + chunk] = (U[s:s + chunk, None, :] * U[None, :, :]).sum(-1)
        elif metric == 'chord': D[s:s + chunk] = np.sqrt(((U[s:s + chunk, None, :] - U[None, :, :]) ** 2).sum(-1))
        else:
            diff = np.abs(X[s:s + chunk, None, :] - X[None, :, :])
            D[s:s + chunk] = np.sqrt((diff ** 2).sum(-1)) if metric == 'euclidean' else diff.sum(-1) if metric == 'cityblock' else diff.max(-1)
    return D


def run_case(case):
    "Run one measurement in this process; return its results as a dict."
    import numpy as np, torch
    from gnn_image_classification.graph import knn_graph, threshold_graph, band_graph
    from gnn_image_classification.diagnostics import graph_stats
    from gnn_image_classification.knn import knn_search, block_rows, knn_recall
    x = np.load(case['data']); y = np.load(case['labels']); n, d = x.shape; k = case['k']
    what = case['what']; res = {}
    # warm up on 300 rows: library initialisation (MKL, OpenMP, torch_geometric) and, for L1/L∞, loading (or building) the C kernel
    t0 = time.perf_counter()
    if what in ('knn', 'mutual_knn', 'threshold', 'band'):
        knn_graph(x[:300], metric=case['metric'], k=k)
    elif what == 'matmul': torch.mm(torch.from_numpy(x[:300]), torch.from_numpy(x[:300]).T)
    res['warmup_seconds'] = time.perf_counter() - t0
    base = _rss_mib(); ru = resource.getrusage(resource.RUSAGE_SELF); t_end = None
    t0 = time.perf_counter()
    if what == 'matmul':  # the same shape as the kNN search: N × d times d × N, in the same row blocks, into one reused buffer
        xt = torch.from_numpy(x); bs = block_rows(n, copies=2); buf = torch.empty(bs, n)
        for s in range(0, n, bs): torch.mm(xt[s:s + bs], xt.T, out=buf[:min(bs, n - s)])
        res['gflops'] = 2 * n * n * d / (time.perf_counter() - t0) / 1e9
    elif what in ('knn', 'mutual_knn', 'threshold', 'band'):
        import warnings; warnings.simplefilter('ignore')
        if what == 'knn': g = knn_graph(x, metric=case['metric'], k=k)
        elif what == 'mutual_knn': g = knn_graph(x, metric=case['metric'], k=k, mutual=True)
        elif what == 'threshold': g = threshold_graph(x, case['metric'], case['threshold'])
        else: g = band_graph(x, case['metric'], lower=case['threshold'])
        t_end, ru_end, peak = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), _rss_mib('VmHWM')  # the graph alone
        t1 = time.perf_counter(); st = graph_stats(g, y); res['stats_seconds'] = time.perf_counter() - t1
        res.update(edges=st['n_edges'], homophily=round(st['homophily'], 3), isolated=st['isolated'], components=st['components'])
        if case.get('save_nbrs'):  # exact neighbours, for the recall of approximate backends
            t1 = time.perf_counter(); nb, _ = knn_search(x, case['metric'], k); np.save(case['save_nbrs'], nb.numpy())
            res['search_seconds'] = time.perf_counter() - t1
    elif what == 'sklearn':
        from sklearn.neighbors import NearestNeighbors
        nn = NearestNeighbors(n_neighbors=k + 1, algorithm='brute', metric=SK_METRIC[case['metric']], n_jobs=-1).fit(x)
        nn.kneighbors(x)
    elif what == 'faiss_flat':
        import faiss
        index = faiss.IndexFlatIP(d); index.add(x); index.search(x, k + 1)
    elif what == 'faiss_hnsw':
        import faiss
        from gnn_image_classification.knn import approx_knn
        from gnn_image_classification.metrics import get_metric
        nb, _, _ = approx_knn(x, case["metric"], k)
        if case.get('exact_nbrs') and os.path.exists(case['exact_nbrs']): res['recall'] = knn_recall(nb, torch.from_numpy(np.load(case['exact_nbrs'])))
    elif what == 'reference':  # dense N × N × d computation + pure-Python pair loop over a torch matrix, as the reference did
        D = torch.from_numpy(_reference_scores(x, case['metric']))
        res['matrix_seconds'] = time.perf_counter() - t0
        t, edges = case['threshold'], []
        for i in range(n):
            for j in range(n):
                if i != j and D[i, j] > t: edges.append((i, j))
        res['edges'] = len(edges) // 2
    else: raise ValueError(what)
    if t_end is None: t_end, ru_end, peak = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), _rss_mib('VmHWM')
    res.update(seconds=t_end - t0, cpu_seconds=ru_end.ru_utime + ru_end.ru_stime - ru.ru_utime - ru.ru_stime,
               peak_rss_mib=peak, base_rss_mib=base)
    return res


def _child(case, timeout):
    env = dict(os.environ); env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    p = subprocess.run([sys.executable, __file__, '--case', json.dumps(case)], capture_output=True, text=True, timeout=timeout, env=env)
    if p.returncode: return dict(error=(p.stderr or p.stdout).strip().splitlines()[-1][:200])
    return json.loads(p.stdout.strip().splitlines()[-1])


def _thresholds(x, k, metrics, sample=500):
    "Per metric, a threshold that joins about k neighbours per node, from the scores of a sample of rows."
    import numpy as np, torch
    from gnn_image_classification.knn import _Scorer
    from gnn_image_classification.metrics import get_metric
    rng = np.random.default_rng(1); rows = rng.choice(len(x), min(sample, len(x)), replace=False)
    out = {}
    for m in metrics:
        mm = get_metric(m); S = _Scorer(torch.from_numpy(x), mm)
        sc = torch.cat([S.scores(int(r), int(r) + 1) for r in rows]).numpy().ravel()
        q = (k + 1) / len(x)  # +1: the node itself
        out[m] = float(np.quantile(sc, 1 - q if mm.higher_is_closer else q))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', nargs='+', type=int, default=[2000, 20000, 100000])
    ap.add_argument('--k', type=int, default=10)
    ap.add_argument('--dim', type=int, default=512)
    ap.add_argument('--metrics', nargs='+', default=list(METRICS))
    ap.add_argument('--kinds', nargs='+', default=['knn', 'mutual_knn', 'threshold', 'band'])
    ap.add_argument('--big', type=int, default=50_000, help='from this N on, L1/L∞ are skipped and euclidean/chord (which give the '
                    'same graphs as cosine on unit vectors) build only kNN graphs, unless --full')
    ap.add_argument('--full', action='store_true', help='every metric and kind at N ≥ --big too (L1/L∞: tens of minutes each)')
    ap.add_argument('--no-reference', action='store_true', help='skip the reference approach (N=2,000: minutes)')
    ap.add_argument('--only-ours', action='store_true', help='only the matmul ceiling and our builders (no reference, scikit-learn, FAISS)')
    ap.add_argument('--reference-metrics', nargs='+', default=list(METRICS))
    ap.add_argument('--timeout', type=int, default=3600, help='seconds per case')
    ap.add_argument('--json', help='also write all results to this JSON file')
    ap.add_argument('--case', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case: print(json.dumps(run_case(json.loads(a.case)))); return

    import numpy as np
    try: import faiss; has_faiss = not a.only_ours
    except ImportError: has_faiss = False
    try: import sklearn; has_sk = not a.only_ours
    except ImportError: has_sk = False
    if a.only_ours: a.no_reference = True
    print(f"cores: {os.cpu_count()}  load average at start: {os.getloadavg()[0]:.2f}  faiss: {has_faiss}  k={a.k} d={a.dim}", flush=True)
    rows, tmp = [], tempfile.mkdtemp(prefix='graphbench')

    def rec(n, method, metric, kind, r):
        row = dict(n=n, method=method, metric=metric, kind=kind, **r); rows.append(row)
        if 'error' in r: print(f"  {n:>7} {method:<12} {metric:<10} {kind:<11} ERROR {r['error']}", flush=True); return row
        extra = ' '.join(f"{key}={r[key]}" for key in ('edges', 'homophily', 'recall', 'gflops', 'matrix_seconds') if key in r)
        print(f"  {n:>7} {method:<12} {metric:<10} {kind:<11} {r['seconds']:8.2f} s (cpu {r['cpu_seconds']:.2f} s)  peak {r['peak_rss_mib']:7.0f} MiB "
              f"(+{r['peak_rss_mib'] - r['base_rss_mib']:.0f} over the loaded data)  {extra}", flush=True)
        return row

    for n in a.sizes:
        x, y = make_embeddings(n, a.dim)
        data, labels = os.path.join(tmp, f'x{n}.npy'), os.path.join(tmp, f'y{n}.npy'); np.save(data, x); np.save(labels, y)
        base = dict(data=data, labels=labels, k=a.k)
        metrics = [m for m in a.metrics if a.full or n < a.big or m in ('cosine', 'euclidean', 'chord')]
        th = _thresholds(x, a.k, metrics)
        print(f"N = {n:,}: thresholds joining ≈{a.k} neighbours per node: " + ', '.join(f"{m} {t:.4g}" for m, t in th.items()), flush=True)
        rec(n, 'matmul', '-', 'ceiling', _child(dict(base, what='matmul'), a.timeout))
        for m in metrics:
            for kind in a.kinds:
                if kind == 'band' and n > 2000: continue  # the band joins the far pairs of a distance: ~N²/2 edges
                if n >= a.big and not a.full and m != 'cosine' and kind != 'knn': continue
                case = dict(base, what=kind, metric=m, threshold=th[m])
                if kind == 'knn' and has_faiss and m == 'cosine' and n > 2000: case['save_nbrs'] = os.path.join(tmp, f'nb{n}.npy')
                rec(n, 'ours', m, kind, _child(case, a.timeout))
            if has_sk and m in SK_METRIC and (n <= 20000 and (m in ('cosine', 'euclidean') or n <= 2000) or m == 'cosine'):
                rec(n, 'sklearn', m, 'knn', _child(dict(base, what='sklearn', metric=m), a.timeout))
        if has_faiss:
            rec(n, 'faiss_flat', 'cosine', 'knn', _child(dict(base, what='faiss_flat'), a.timeout))
            if n > 2000: rec(n, 'faiss_hnsw', 'cosine', 'knn', _child(dict(base, what='faiss_hnsw', metric='cosine', exact_nbrs=os.path.join(tmp, f'nb{n}.npy')), a.timeout))
        if n == 2000 and not a.no_reference:
            for m in a.reference_metrics:
                rec(n, 'reference', m, 'band', _child(dict(base, what='reference', metric=m, threshold=th[m]), a.timeout))

    print(f"\nload average at end: {os.getloadavg()[0]:.2f}\n")
    _summary(rows)
    if a.json:
        with open(a.json, 'w') as f: json.dump(rows, f, indent=1)


def _summary(rows):
    "Markdown table of every case, with ratios to the matmul ceiling, the reference approach and scikit-learn."
    get = lambda **kw: next((r for r in rows if all(r.get(k) == v for k, v in kw.items()) and 'error' not in r), None)
    print('| N | method | metric | kind | wall s | CPU s | peak RSS MiB (above data) | ÷ matmul wall (CPU) | reference ÷ ours | sklearn ÷ ours | notes |')
    print('|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|')
    for r in rows:
        if 'error' in r: print(f"| {r['n']:,} | {r['method']} | {r['metric']} | {r['kind']} | error | | | | | | {r['error']} |"); continue
        mm = get(n=r['n'], method='matmul'); ref = get(n=r['n'], method='reference', metric=r['metric'])
        sk = get(n=r['n'], method='sklearn', metric=r['metric'])
        ratio_mm = f"{r['seconds'] / mm['seconds']:.2f} ({r['cpu_seconds'] / mm['cpu_seconds']:.2f})" if mm and r['method'] != 'matmul' else ''
        ratio_ref = f"{ref['seconds'] / r['seconds']:.0f}" if ref and r['method'] == 'ours' else ''
        ratio_sk = f"{sk['seconds'] / r['seconds']:.1f}" if sk and r['method'] == 'ours' and r['kind'] == 'knn' else ''
        notes = []
        if 'gflops' in r: notes.append(f"{r['gflops']:.0f} GFLOP/s")
        if r['method'] == 'ours' and r['kind'] == 'knn' and r['metric'] == 'cosine' and mm:
            notes.append(f"{mm['seconds'] / r['seconds']:.0%} of the matmul ceiling")
        for key in ('edges', 'homophily', 'recall', 'matrix_seconds'):
            if key in r: notes.append(f"{key} {r[key]:.3g}" if isinstance(r[key], float) else f"{key} {r[key]:,}")
        print(f"| {r['n']:,} | {r['method']} | {r['metric']} | {r['kind']} | {r['seconds']:.3g} | {r['cpu_seconds']:.3g} | "
              f"{r['peak_rss_mib']:.0f} (+{r['peak_rss_mib'] - r['base_rss_mib']:.0f}) | {ratio_mm} | {ratio_ref} | {ratio_sk} | {'; '.join(notes)} |")


if __name__ == '__main__': main()
