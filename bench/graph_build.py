"""Benchmark graph construction: exact kNN / mutual kNN / threshold graphs for every metric, against the reference repo's
approach, scikit-learn, FAISS and the machine's float32 matmul ceiling.

Every measurement runs in its own subprocess, so its wall time and peak RSS (`ru_maxrss`) belong to that case alone;
each child first loads the embeddings from a .npy file, and the table also shows the RSS above that baseline.

    python bench/graph_build.py                          # N = 2,000, 20,000, 100,000 (about half an hour on 2 cores)
    python bench/graph_build.py --sizes 2000 20000       # quicker
    python bench/graph_build.py --sizes 2000 --no-reference

Not a test: timings depend on the machine and its load (the load average is printed with the table).
"""
from __future__ import annotations
import argparse, json, math, os, resource, subprocess, sys, tempfile, time

METRICS = ('cosine', 'euclidean', 'chord', 'cityblock', 'maxnorm')
SK_METRIC = dict(cosine='cosine', euclidean='euclidean', cityblock='manhattan', maxnorm='chebyshev')


def make_embeddings(n, d=512, classes=10, noise=0.05, seed=0):
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


def _rss_mib():
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


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
    from gnn_image_classification.graph import knn_graph, knn_search, threshold_graph, band_graph, graph_stats, block_rows, knn_recall
    x = np.load(case['data']); y = np.load(case['labels']); n, d = x.shape; k = case['k']
    base = _rss_mib(); res = {}
    t0 = time.perf_counter()
    what = case['what']
    if what == 'matmul':  # the same shape as the kNN search: N × d times d × N, in the same row blocks, into one reused buffer
        xt = torch.from_numpy(x); bs = block_rows(n, copies=2); buf = torch.empty(bs, n)
        for s in range(0, n, bs): torch.mm(xt[s:s + bs], xt.T, out=buf[:min(bs, n - s)])
        res['gflops'] = 2 * n * n * d / (time.perf_counter() - t0) / 1e9
    elif what in ('knn', 'mutual_knn', 'threshold', 'band'):
        import warnings; warnings.simplefilter('ignore')
        if what == 'knn': g = knn_graph(x, case['metric'], k)
        elif what == 'mutual_knn': g = knn_graph(x, case['metric'], k, mutual=True)
        elif what == 'threshold': g = threshold_graph(x, case['metric'], case['threshold'])
        else: g = band_graph(x, case['metric'], lower=case['threshold'])
        res['seconds_graph'] = time.perf_counter() - t0
        t1 = time.perf_counter(); st = graph_stats(g, y); res['stats_seconds'] = time.perf_counter() - t1
        res.update(edges=st['n_edges'], homophily=round(st['homophily'], 3), isolated=st['isolated'], components=st['components'])
        if case.get('save_nbrs'):  # exact neighbours, for the recall of approximate backends
            t1 = time.perf_counter(); nb, _ = knn_search(x, case['metric'], k); np.save(case['save_nbrs'], nb.numpy())
            res['search_seconds'] = time.perf_counter() - t1
        t0 += res['stats_seconds'] + res.get('search_seconds', 0)  # the graph alone
    elif what == 'sklearn':
        from sklearn.neighbors import NearestNeighbors
        nn = NearestNeighbors(n_neighbors=k + 1, algorithm='brute', metric=SK_METRIC[case['metric']], n_jobs=-1).fit(x)
        nn.kneighbors(x)
    elif what == 'faiss_flat':
        import faiss
        index = faiss.IndexFlatIP(d); index.add(x); index.search(x, k + 1)
    elif what == 'faiss_hnsw':
        import faiss
        from gnn_image_classification.graph import _faiss_knn
        from gnn_image_classification.metrics import get_metric
        nb, _ = _faiss_knn(x, get_metric(case['metric']), k)
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
    res.update(seconds=time.perf_counter() - t0, peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, base_rss_mib=base)
    return res


def _child(case, timeout):
    p = subprocess.run([sys.executable, __file__, '--case', json.dumps(case)], capture_output=True, text=True, timeout=timeout)
    if p.returncode: return dict(error=(p.stderr or p.stdout).strip().splitlines()[-1][:200])
    return json.loads(p.stdout.strip().splitlines()[-1])


def _thresholds(x, k, metrics, sample=500):
    "Per metric, a threshold that joins about k neighbours per node, from the scores of a sample of rows."
    import numpy as np, torch
    from gnn_image_classification.graph import _Scorer
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
    ap.add_argument('--big', type=int, default=50_000, help='from this N on, only matmul-friendly metrics (cosine, euclidean, chord) unless --full')
    ap.add_argument('--full', action='store_true', help='also L1/L∞ at N ≥ --big (minutes to tens of minutes each)')
    ap.add_argument('--no-reference', action='store_true', help='skip the reference approach (N=2,000: minutes)')
    ap.add_argument('--reference-metrics', nargs='+', default=list(METRICS))
    ap.add_argument('--timeout', type=int, default=3600, help='seconds per case')
    ap.add_argument('--json', help='also write all results to this JSON file')
    ap.add_argument('--case', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case: print(json.dumps(run_case(json.loads(a.case)))); return

    import numpy as np
    try: import faiss; has_faiss = True
    except ImportError: has_faiss = False
    try: import sklearn; has_sk = True
    except ImportError: has_sk = False
    print(f"cores: {os.cpu_count()}  load average at start: {os.getloadavg()[0]:.2f}  faiss: {has_faiss}  k={a.k} d={a.dim}", flush=True)
    rows, tmp = [], tempfile.mkdtemp(prefix='graphbench')

    def rec(n, method, metric, kind, r):
        row = dict(n=n, method=method, metric=metric, kind=kind, **r); rows.append(row)
        if 'error' in r: print(f"  {n:>7} {method:<12} {metric:<10} {kind:<11} ERROR {r['error']}", flush=True); return row
        extra = ' '.join(f"{key}={r[key]}" for key in ('edges', 'homophily', 'recall', 'gflops', 'matrix_seconds') if key in r)
        print(f"  {n:>7} {method:<12} {metric:<10} {kind:<11} {r['seconds']:8.2f} s  peak {r['peak_rss_mib']:7.0f} MiB "
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
    print('| N | method | metric | kind | seconds | peak RSS MiB | × matmul | reference ÷ ours | sklearn ÷ ours | notes |')
    print('|---:|---|---|---|---:|---:|---:|---:|---:|---|')
    for r in rows:
        if 'error' in r: print(f"| {r['n']:,} | {r['method']} | {r['metric']} | {r['kind']} | error | | | | | {r['error']} |"); continue
        mm = get(n=r['n'], method='matmul'); ref = get(n=r['n'], method='reference', metric=r['metric'])
        sk = get(n=r['n'], method='sklearn', metric=r['metric'])
        fm = lambda v: f"{v:.2f}" if v is not None else ''
        ratio_mm = r['seconds'] / mm['seconds'] if mm and r['method'] != 'matmul' else None
        ratio_ref = ref['seconds'] / r['seconds'] if ref and r['method'] == 'ours' else None
        ratio_sk = sk['seconds'] / r['seconds'] if sk and r['method'] == 'ours' and r['kind'] == 'knn' else None
        notes = []
        if 'gflops' in r: notes.append(f"{r['gflops']:.0f} GFLOP/s")
        if r['method'] == 'ours' and r['kind'] == 'knn' and r['metric'] == 'cosine' and mm:
            notes.append(f"{mm['seconds'] / r['seconds']:.0%} of the matmul ceiling")
        for key in ('edges', 'homophily', 'recall', 'matrix_seconds'):
            if key in r: notes.append(f"{key} {r[key]:.3g}" if isinstance(r[key], float) else f"{key} {r[key]:,}")
        print(f"| {r['n']:,} | {r['method']} | {r['metric']} | {r['kind']} | {r['seconds']:.3g} | {r['peak_rss_mib']:.0f} | "
              f"{fm(ratio_mm)} | {f'{ratio_ref:.0f}' if ratio_ref else ''} | {fm(ratio_sk)} | {'; '.join(notes)} |")


if __name__ == '__main__': main()
