"""Benchmark kNN graphs at scale: FAISS IVF against FAISS HNSW and our exact search, recall on a sample, CSR on disk.

Synthetic class-structured embeddings (as bench/graph_build.py: 10 classes, a random unit centre per class plus Gaussian
noise of 0.1 per feature, L2-normalised, d = 512) are generated in chunks straight into a memory-mapped .npy, so N = 10^6
(2 GB) never needs two copies in memory. Every case runs in its own process (graph_build.in_child), reading that file
memory-mapped, and reports wall and CPU seconds, peak RSS (VmHWM, including ≈0.4-0.9 GiB of Python + torch + faiss) and
the load average before and after it. Cases, per N, cosine, k = 10:

  ivf     approx_knn(index='ivf'): k-means on a sample (40 rows per list), add all rows, search all rows
  recall  sample_recall: exact neighbours of 1,000 random rows among all N (blocks of 32,768), against the IVF lists
  csr     knn_csr (symmetrise, Gaussian-free cosine weights) + save_graph; then load_graph (memory-mapped)
  sweep   recall and time per query of the same IVF index at several nprobe, on 2,000 rows (to choose nprobe)
  hnsw    approx_knn(index='hnsw') (N ≤ 2·10^5 only: its build is the slow part)
  exact   knn_search (N ≤ 2·10^5 only); the IVF and HNSW recall is then also computed on all rows

    python bench/graph_scale.py                        # N = 10^5: all cases (≈ 300 CPU s: about 5 minutes on 2 idle cores)
    python bench/graph_scale.py --sizes 100000 200000  # adds the 2·10^5 point
    python bench/graph_scale.py --full                 # adds N = 10^6: ivf, recall, csr, sweep (an estimated 20-25 minutes more)

Children run with OMP_NUM_THREADS=2 (--threads) and OMP_WAIT_POLICY=PASSIVE. Not a test: timings depend on the machine
and its load (printed with every case).
"""
from __future__ import annotations
import argparse, json, math, os, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_build import in_child, _rss_mib


def make_memmap(path, n, d=512, classes=10, noise=0.1, seed=0, chunk=50_000, intrinsic:int=None):
    """graph_build.make_embeddings, written chunk by chunk into a memory-mapped .npy (and the labels beside it).
    With `intrinsic` = m, each class's noise lies in its own random m-dimensional subspace (same total variance, plus 1 % of
    it isotropic): a crude stand-in for real CNN features, whose intrinsic dimension is far below d."""
    import numpy as np
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, d)).astype(np.float32); centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = rng.integers(0, classes, n)
    if intrinsic: W = np.stack([np.linalg.qr(rng.standard_normal((d, intrinsic)))[0].T for _ in range(classes)]).astype(np.float32) * math.sqrt(d / intrinsic)
    x = np.lib.format.open_memmap(path + '.tmp.npy', mode='w+', dtype=np.float32, shape=(n, d))
    for s in range(0, n, chunk):
        e = min(s + chunk, n); yc = y[s:e]
        if not intrinsic: b = centres[yc] + noise * rng.standard_normal((e - s, d), dtype=np.float32)
        else:
            b = centres[yc] + 0.1 * noise * rng.standard_normal((e - s, d), dtype=np.float32)
            for c in range(classes): i = np.nonzero(yc == c)[0]; b[i] += noise * rng.standard_normal((len(i), intrinsic), dtype=np.float32) @ W[c]
        x[s:e] = b / np.linalg.norm(b, axis=1, keepdims=True)
    x.flush(); del x; os.replace(path + '.tmp.npy', path); np.save(path.replace('.npy', '_y.npy'), y)


def homophily(nb, y):
    "Fraction of the directed kNN edges that join two rows of the same class."
    import numpy as np
    return float((y[np.asarray(nb)] == y[:, None]).mean())


def run_case(c):
    import numpy as np, torch
    from gnn_image_classification.graph import knn_csr, save_graph, load_graph
    from gnn_image_classification.knn import approx_knn, knn_search, sample_recall, knn_recall
    torch.set_num_threads(c['threads'])
    x = np.load(c['data'], mmap_mode='r'); y = np.load(c['data'].replace('.npy', '_y.npy')); n = len(x); k = c['k']; d = c['dir']
    rss0 = _rss_mib(); t0, p0 = time.perf_counter(), time.process_time(); res = {}
    what = c['what']
    if what in ('ivf', 'hnsw'):
        kw = dict(nlist=c.get('nlist'), nprobe=c.get('nprobe'), train_size=c.get('train_size')) if what == 'ivf' else {}
        nb, sc, p = approx_knn(x, 'cosine', k, index=what, **kw); res['params'] = p
    elif what == 'exact':
        nb, sc = knn_search(np.asarray(x), 'cosine', k)
    elif what == 'recall':
        res.update(sample_recall(x, np.load(f'{d}/ivf_nb.npy'), 'cosine', c['rows']))
    elif what == 'csr':
        nb, sc = np.load(f'{d}/ivf_nb.npy', mmap_mode='r'), np.load(f'{d}/ivf_sc.npy', mmap_mode='r')
        A, s, wp = knn_csr(nb, sc, 'cosine'); t1 = time.perf_counter()
        save_graph(A, f'{d}/graph', score=s, meta=dict(metric='cosine', k=k, backend='faiss', **c.get('meta', {})))
        res['csr_s'], res['save_s'] = t1 - t0, time.perf_counter() - t1
        res['mib'] = sum(os.path.getsize(f'{d}/graph/{f}') for f in os.listdir(f'{d}/graph')) / 2**20; res['nnz'] = int(A.nnz)
        t2 = time.perf_counter(); B, man = load_graph(f'{d}/graph'); res['load_s'] = time.perf_counter() - t2
        res['deg_mean'] = B.nnz / n
    elif what == 'sweep':
        import faiss
        from gnn_image_classification.knn import _faiss_index, exact_rows, _rows
        q = np.sort(np.random.default_rng(1).choice(n, 2000, replace=False)); ex = exact_rows(x, q, 'cosine', k)
        ix, p = _faiss_index(faiss, faiss.METRIC_INNER_PRODUCT, x, True, n, x.shape[1], k, 'ivf', c.get('nlist'), 1, c.get('train_size'), 10, 32, None, 0)
        for s in range(0, n, 65536): ix.add(_rows(x, slice(s, s + 65536), True).numpy())
        Q = _rows(x, q, True).numpy(); res['sweep'] = []
        for npb in c['nprobes']:
            ix.nprobe = npb; a, b = time.perf_counter(), time.process_time(); _, I = ix.search(Q, k + 1)
            I = torch.from_numpy(np.stack([r[r != i][:k] for r, i in zip(I, q)]))
            res['sweep'].append(dict(nprobe=npb, recall=knn_recall(I, ex), ms_per_query=(time.perf_counter() - a) / len(q) * 1e3,
                                     cpu_ms_per_query=(time.process_time() - b) / len(q) * 1e3))
        res['params'] = p
    wall, cpu = time.perf_counter() - t0, time.process_time() - p0
    if what in ('ivf', 'hnsw', 'exact'):
        np.save(f'{d}/{what}_nb.npy', np.asarray(nb, np.int64)); np.save(f'{d}/{what}_sc.npy', np.asarray(sc, np.float32))
        res['homophily'] = homophily(nb, y)
        if what != 'exact' and os.path.exists(f'{d}/exact_nb.npy'): res['recall_all'] = knn_recall(torch.as_tensor(nb), torch.from_numpy(np.load(f'{d}/exact_nb.npy')))
    return dict(res, wall=wall, cpu=cpu, peak=_rss_mib('VmHWM'), base=rss0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', type=int, nargs='+', default=[100_000]); ap.add_argument('--full', action='store_true', help='add N = 10^6')
    ap.add_argument('--k', type=int, default=10); ap.add_argument('--nlist', type=int); ap.add_argument('--nprobe', type=int)
    ap.add_argument('--train-size', type=int); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--nprobes', type=int, nargs='+', default=[4, 8, 16, 32, 64]); ap.add_argument('--rows', type=int, default=1000)
    ap.add_argument('--cases', nargs='+', default=['ivf', 'recall', 'csr', 'sweep', 'hnsw', 'exact'])
    ap.add_argument('--workdir', help='keep data and graphs here (default: a temporary directory, removed)')
    ap.add_argument('--intrinsic', type=int, help='noise in a random subspace of this dimension per class (default: isotropic, as graph_build)')
    ap.add_argument('--case', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.case: print(json.dumps(run_case(json.loads(a.case)))); return
    sizes = a.sizes + ([1_000_000] if a.full and 1_000_000 not in a.sizes else [])
    import shutil; root = a.workdir or tempfile.mkdtemp(prefix='graph_scale_')
    env = dict(OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY=os.environ.get('OMP_WAIT_POLICY', 'PASSIVE'))
    print(f"cores: {os.cpu_count()}  threads per case: {a.threads}  load average at start: {os.getloadavg()[0]:.2f}  k={a.k} d=512 cosine  "
          f"noise: {f'{a.intrinsic}-dimensional per class' if a.intrinsic else 'isotropic'}", flush=True)
    try:
        for n in sizes:
            d = os.path.join(root, f'n{n}' + (f'-m{a.intrinsic}' if a.intrinsic else '')); os.makedirs(d, exist_ok=True); data = os.path.join(d, 'x.npy')
            t = time.perf_counter()
            if not os.path.exists(data): make_memmap(data, n, intrinsic=a.intrinsic)
            print(f"\nN = {n:,}: data {os.path.getsize(data) / 2**30:.2f} GiB generated in {time.perf_counter() - t:.1f} s", flush=True)
            print("| N | case | wall s | CPU s | peak RSS MiB (start) | load before→after | result |\n|---:|---|---:|---:|---:|---|---|", flush=True)
            small = n <= 200_000; order = [w for w in ('exact', 'hnsw', 'ivf', 'recall', 'csr', 'sweep') if w in a.cases and (small or w not in ('exact', 'hnsw'))]
            out = {}
            for w in order:
                c = dict(what=w, data=data, dir=d, k=a.k, threads=a.threads, nlist=a.nlist, nprobe=a.nprobe, train_size=a.train_size,
                         rows=a.rows, nprobes=a.nprobes, meta=dict(out.get('ivf', {}).get('params', {}), **{kk: out['recall'][kk] for kk in ('recall', 'recall_rows') if kk in out.get('recall', {})}))
                r = in_child(__file__, c, timeout=6 * 3600, env_extra=env); out[w] = r
                if 'error' in r: print(f"| {n:,} | {w} | – | – | – | {r['load'][0]:.1f}→{r['load'][1]:.1f} | ERROR {r['error']} |", flush=True); continue
                note = {k_: v for k_, v in r.items() if k_ not in ('wall', 'cpu', 'peak', 'base', 'load', 'sweep')}
                print(f"| {n:,} | {w} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['peak']:.0f} ({r['base']:.0f}) | {r['load'][0]:.1f}→{r['load'][1]:.1f} | {json.dumps(note, default=str)} |", flush=True)
                for s in r.get('sweep', []): print(f"|  | nprobe={s['nprobe']} | | | | | recall {s['recall']:.3f}, {s['ms_per_query']:.2f} ms/query wall, {s['cpu_ms_per_query']:.2f} CPU ms/query → {s['ms_per_query'] * n / 1e3:.0f} s for all N |", flush=True)
            iv = out.get('ivf', {})
            for peer in ('exact', 'hnsw'):
                p = out.get(peer, {})
                if 'wall' in p and 'wall' in iv: print(f"IVF ÷ {peer}: {iv['wall'] / p['wall']:.2f} wall ({iv['cpu'] / p['cpu']:.2f} CPU)", flush=True)
            st = [out[w] for w in ('ivf', 'recall', 'csr') if 'wall' in out.get(w, {})]
            if st: print(f"graph stage (ivf + recall + csr/save): {sum(s['wall'] for s in st):.0f} s wall, {sum(s['cpu'] for s in st):.0f} CPU s, peak RSS {max(s['peak'] for s in st):.0f} MiB", flush=True)
    finally:
        if not a.workdir: shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__': main()
