"""End to end at scale (issue 14, item 4): synthetic class-structured embeddings → FAISS IVF kNN graph → CSR on disk →
precomputed propagation (SGC, SIGN), label propagation, C&S and an MLP peer → test accuracy at a small label rate.

Data (`make_embeddings`): --classes classes (default 50) of --modes modes each (4); a mode is its class's random unit
centre plus --spread (0.7) times a random unit vector, and its points scatter around it in a mode's own random
--intrinsic-dimensional subspace (16; noise of norm ≈ --noise = 2) plus 10 % of that noise isotropic, L2-normalised, d = 512.
A --flip (0.2) fraction of the rows get a random label, so no method can reach 1 (expected ceiling ≈ 1 − flip·(1 − 1/classes)).
Low intrinsic dimension is what real CNN features have and what makes an IVF index work; isotropic 512-d noise
(bench/graph_scale.py) is the hard case for any index. Written in chunks into a memory-mapped embeddings folder
(`data.write_embeddings_dir`); never two copies in memory.

Stages, each in its own process (so its peak RSS is its own), in order:
  data     generate and write the embeddings folder (embeddings.npy, labels.npy, names.txt, manifest.json with SHA-1s)
  knn      read the folder (memory-mapped, checksums verified) → `approx_knn(index='ivf')`: k-means on a sample
           (--train-per-list rows per list, --niter iterations), nlist = --nlist-factor·√N lists, --nprobe lists per row,
           searched list by list as matrix products (`grouped=True`)
  recall   exact neighbours of --recall-rows random rows among all N (`exact_rows`) → recall@k of the IVF graph on them;
           peers on the same rows: the exact search's seconds per row and FAISS's own IVF scan (same parameters, its index
           built again: train + add all N rows) seconds per row, against the grouped search's seconds per row (its stage / N)
  csr      `knn_csr` (symmetrised, weights 'auto') → `save_graph` (manifest records the IVF parameters and the recall) → `load_graph`
  train    `load_graph` (memory-mapped) + the embeddings memory-mapped → `methods.fit_at_scale` with --methods (default mlp,
           sgc, sign, labelprop, cs; K = 2; mini-batches of --batch rows for the MLP, SGC, SIGN heads and C&S's base MLP):
           task, adjacency Â, hops [X, ÂX, Â²X] (memory up to --max-memory GiB, else .npy files), each method fitted
           once with early stopping on `val`, scored once on `test`
  select   `load_graph` + the embeddings memory-mapped → `selection.select_images` of --select-budget (1,000) images
           among all N with each of --select-strategies (default: the default strategy, and the graph strategies
           probcover and herding), one process each, on the stored graph (no N × N anywhere); then, unless
           --no-select-eval, label propagation (`fit_at_scale`) from the chosen rows' labels against as many random rows,
           test accuracy on every other row (labels read only to score; the chosen rows' classes counted as a diagnostic)
Split: --label-rate·N random labelled rows (train), as many for validation (early stopping), the rest is test; test
labels are read only by `fit_at_scale`'s final scoring. Per stage: wall and CPU seconds (all threads), peak RSS (VmHWM,
which includes memory-mapped pages read; a 0.25 s sampler gives the anonymous part and the peak of each sub-stage of
`train`) and the load average before and after.

    python bench/scale.py --n 100000 --json /tmp/scale_1e5.json            # ≈ 2-3 CPU minutes
    python bench/scale.py --n 1000000 --json /tmp/scale_1e6.json           # the issue's 10^6 run (see the docs page "Scaling out")
    python bench/scale.py --n 100000 --stages select --json /tmp/sel_1e5.json   # data, knn, csr, then only the selection stage

Children run with OMP_NUM_THREADS = --threads (2) and OMP_WAIT_POLICY=PASSIVE. Not a test: timings depend on the machine
and its load (printed with every stage).
"""
from __future__ import annotations
import argparse, json, math, os, resource, shutil, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def make_embeddings(folder, n, d=512, classes=50, modes=4, intrinsic=16, noise=2.0, spread=0.7, flip=0.2, seed=0, chunk=8192):
    "Write the synthetic embeddings folder described above, chunk by chunk (x never whole in memory); returns its path."
    import numpy as np
    from gnn_image_classification.data import write_embeddings_dir
    rng = np.random.default_rng(seed); M = classes * modes; os.makedirs(folder, exist_ok=True)
    u = rng.standard_normal((classes, d)).astype(np.float32); u /= np.linalg.norm(u, axis=1, keepdims=True)
    g = rng.standard_normal((M, d)).astype(np.float32); g /= np.linalg.norm(g, axis=1, keepdims=True)
    mu = u.repeat(modes, 0) + spread * g  # mode centres: row c·modes + s is mode s of class c
    W = np.stack([np.linalg.qr(rng.standard_normal((d, intrinsic)))[0].T for _ in range(M)]).astype(np.float32)
    mode = rng.integers(0, M, n); y = mode // modes
    fl = rng.random(n) < flip; y[fl] = rng.integers(0, classes, int(fl.sum()))
    part = os.path.join(folder, 'x.part.npy'); x = np.lib.format.open_memmap(part, 'w+', np.float32, (n, d))
    for s in range(0, n, chunk):
        e = min(n, s + chunk); mc = mode[s:e]
        b = mu[mc] + 0.1 * noise / math.sqrt(d) * rng.standard_normal((e - s, d), dtype=np.float32)
        b += np.einsum('ni,nid->nd', noise / math.sqrt(intrinsic) * rng.standard_normal((e - s, intrinsic), dtype=np.float32), W[mc])
        x[s:e] = b / np.linalg.norm(b, axis=1, keepdims=True)
    x.flush(); del x
    gen = dict(script='bench/scale.py', classes=classes, modes=modes, intrinsic=intrinsic, noise=noise, spread=spread, flip=flip, seed=seed)
    return str(write_embeddings_dir(folder, part, y, [f'c{c}' for c in range(classes)], [f'img{i:08d}' for i in range(n)], meta=dict(generator=gen)))


def split(n, rate, seed=0):
    "Random labelled rows (train), as many validation rows, the rest test."
    import numpy as np
    p = np.random.default_rng(seed + 1).permutation(n); L = max(1, round(rate * n))
    return dict(train=np.sort(p[:L]), val=np.sort(p[L:2 * L]), test=np.sort(p[2 * L:]))


class Sampler:
    "Samples VmRSS and RssAnon every `dt` s in a thread: per-interval peaks of the stages of one process."
    def __init__(self, dt=0.25):
        self.dt, self.samples, self.stop = dt, [], threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True); self.t.start()
    def read(self):
        with open('/proc/self/status') as f: v = {l.split(':')[0]: int(l.split()[1]) / 1024 for l in f if l.startswith(('VmRSS', 'RssAnon'))}
        return time.perf_counter(), v['VmRSS'], v['RssAnon']
    def run(self):
        while not self.stop.is_set(): self.samples.append(self.read()); time.sleep(self.dt)
    def peak(self, t0, t1):
        s = [x for x in self.samples if t0 <= x[0] <= t1] or [self.read()]
        return max(x[1] for x in s), max(x[2] for x in s)


def _hwm():
    with open('/proc/self/status') as f: return next(int(l.split()[1]) for l in f if l.startswith('VmHWM')) / 1024


def run_stage(c):
    "One stage in this process; its results as a dict (the clock starts after the imports)."
    import numpy as np, torch
    torch.set_num_threads(c['threads'])
    import faiss; faiss.omp_set_num_threads(c['threads'])
    from gnn_image_classification.data import read_embeddings_dir
    from gnn_image_classification import graph as G, knn as K  # K: the search internals (FAISS index, row reader)
    from gnn_image_classification.methods import fit_at_scale
    sm = Sampler(); ru0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter(); w, res, st = c['work'], {}, c['stage']
    if st == 'data':
        make_embeddings(c['emb'], c['n'], c['d'], **c['gen'])
    elif st == 'knn':
        es = read_embeddings_dir(c['emb'])
        nb, sc, p = K.approx_knn(es.x, 'cosine', c['k'], index='ivf', nlist=c['nlist'], nprobe=c['nprobe'], train_size=c['train_size'], niter=c['niter'])
        np.save(f'{w}/nb.npy', nb.numpy()); np.save(f'{w}/sc.npy', sc.numpy()); res['params'] = p
        y = es.y; res['homophily_directed'] = float((y[nb.numpy()] == y[:, None]).mean())  # diagnostic (all labels); not used in fitting
    elif st == 'recall':
        es = read_embeddings_dir(c['emb'], verify=False); x = es.x; n = len(x); k = c['k']; nb = np.load(f'{w}/nb.npy', mmap_mode='r')
        rows = np.sort(np.random.default_rng(7).choice(n, min(c['rows'], n), replace=False))
        clk = lambda: (time.perf_counter(), time.process_time())
        lap = lambda c0, m=1: ((time.perf_counter() - c0[0]) / m, (time.process_time() - c0[1]) / m)  # wall and CPU seconds since c0, per m
        c0 = clk(); ex = K.exact_rows(x, rows, 'cosine', k); res['exact_s_per_row'], res['exact_cpu_per_row'] = lap(c0, len(rows))
        res['recall'] = K.knn_recall(torch.as_tensor(nb[rows]), ex); res['recall_rows'] = len(rows)
        p = c['params']; faiss_, fm = K._faiss_metric(G.get_metric('cosine')); get = lambda s, e: K._rows(x, slice(s, e), True).numpy()
        c0 = clk(); ix, _ = K._faiss_index(faiss_, fm, x, True, n, x.shape[1], k, 'ivf', p['nlist'], p['nprobe'], p['train_size'], p['niter'], 32, None, 0)
        res['faiss_train_s'], res['faiss_train_cpu'] = lap(c0); c0 = clk()
        for s in range(0, n, 65536): ix.add(get(s, min(n, s + 65536)))
        res['faiss_add_s'], res['faiss_add_cpu'] = lap(c0); q = K._rows(x, rows, True).numpy()
        c0 = clk(); _, I = ix.search(q, k + 1); res['faiss_scan_s_per_row'], res['faiss_scan_cpu_per_row'] = lap(c0, len(rows))
        I = torch.from_numpy(I); keep = I != torch.from_numpy(rows)[:, None]; keep[keep.all(1), k] = False
        res['faiss_scan_recall'] = K.knn_recall(I[keep].view(len(rows), k), ex)
    elif st == 'csr':
        nb, sc = np.load(f'{w}/nb.npy', mmap_mode='r'), np.load(f'{w}/sc.npy', mmap_mode='r')
        A, s, wp = G.knn_csr(nb, sc, 'cosine')
        G.save_graph(A, f'{w}/graph', score=s, meta=dict(metric='cosine', k=c['k'], backend='faiss', **c['params'], **c['recall'], **wp))
        res['nnz'], res['disk_mib'] = int(A.nnz), sum(os.path.getsize(f'{w}/graph/{f}') for f in os.listdir(f'{w}/graph')) / 2**20
        t = time.perf_counter(); B, man = G.load_graph(f'{w}/graph'); res['load_s'] = time.perf_counter() - t
        res['mean_degree'] = B.nnz / B.shape[0]
    elif st == 'train':
        A, man = G.load_graph(f'{w}/graph'); es = read_embeddings_dir(c['emb'], verify=False)
        sp = split(len(es.y), c['label_rate']); hp = {m: dict(batch_size=c['batch']) for m in c['methods'] if m in ('mlp', 'cs', 'sgc', 'sign')}
        ts = time.perf_counter()
        out = fit_at_scale(es.x, (A.indptr, A.indices, A.data), es.y, sp, methods=tuple(c['methods']), path=f'{w}/hops',
                           max_memory=int(c['max_memory'] * 2**30), hparams=hp)
        res['methods'], res['sub'] = out['methods'], {}
        for name, sec in out['seconds'].items():  # sub-stages back to back (scoring, between methods, is cheap)
            pk, pa = sm.peak(ts, ts + sec); res['sub'][name] = dict(seconds=sec, cpu_seconds=out['cpu_seconds'][name], peak_rss_mib=pk, peak_anon_mib=pa); ts += sec
        res['split'] = {k: int(len(v)) for k, v in sp.items()}
    elif st == 'select':
        from gnn_image_classification.selection import select_images
        A, man = G.load_graph(f'{w}/graph'); es = read_embeddings_dir(c['emb'], verify=False); t = time.perf_counter()
        sel = select_images(es.x, c['budget'], c['strategy'], graph=(A.indptr, A.indices, A.data), seed=0)['index'].to_numpy()
        res['select_seconds'] = time.perf_counter() - t; res['classes_hit'] = int(len(np.unique(es.y[sel])))  # a diagnostic only
        np.save(f"{w}/select_{c['strategy']}.npy", sel)
        if c['eval']:  # label propagation from the chosen rows' labels, and from as many random rows; every other row is test
            rnd = np.sort(np.random.default_rng(0).choice(len(es.y), c['budget'], replace=False)); res['labelprop_test_acc'] = {}
            for name, lab in (('chosen', np.sort(sel)), ('random', rnd)):
                sp = dict(train=lab, val=np.zeros(0, np.int64), test=np.setdiff1d(np.arange(len(es.y)), lab))
                out = fit_at_scale(es.x, (A.indptr, A.indices, A.data), es.y, sp, methods=('labelprop',), path=f'{w}/hops_sel')
                res['labelprop_test_acc'][name] = out['methods']['labelprop']['test_acc']
    else: raise ValueError(st)
    t1 = time.perf_counter(); ru1 = resource.getrusage(resource.RUSAGE_SELF); sm.stop.set()
    res.update(seconds=t1 - t0, cpu_seconds=ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, peak_rss_mib=_hwm(),
               peak_anon_mib=max([x[2] for x in sm.samples] or [0]))
    return res


def child(c, timeout):
    "Run one stage in a fresh process; its result dict with the load average before and after (an error row if it fails)."
    env = dict(os.environ, OMP_NUM_THREADS=str(c['threads'])); env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    l0 = os.getloadavg()[0]
    try:
        p = subprocess.run([sys.executable, __file__, '--stage', json.dumps(c)], capture_output=True, text=True, timeout=timeout, env=env)
        r = dict(error=(p.stderr or p.stdout).strip().splitlines()[-1][:300]) if p.returncode else json.loads(p.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired: r = dict(error=f'timed out after {timeout} s')
    return dict(r, load=(l0, os.getloadavg()[0]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', nargs='+', type=int, default=[100_000], help='sizes to run (each end to end)')
    ap.add_argument('--d', type=int, default=512)
    ap.add_argument('--k', type=int, default=10)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--classes', type=int, default=50); ap.add_argument('--modes', type=int, default=4)
    ap.add_argument('--intrinsic', type=int, default=16); ap.add_argument('--noise', type=float, default=2.0)
    ap.add_argument('--spread', type=float, default=0.7); ap.add_argument('--flip', type=float, default=0.2)
    ap.add_argument('--nlist-factor', type=float, default=4., help='IVF lists = factor·√N')
    ap.add_argument('--nprobe', type=int, default=16)
    ap.add_argument('--train-per-list', type=int, default=40, help='k-means training rows per list')
    ap.add_argument('--niter', type=int, default=10, help='k-means iterations')
    ap.add_argument('--recall-rows', type=int, default=2000)
    ap.add_argument('--no-peer', action='store_true', help="skip FAISS's own IVF scan as a peer (its index is built again)")
    ap.add_argument('--label-rate', type=float, default=0.01)
    ap.add_argument('--methods', nargs='+', default=['mlp', 'sgc', 'sign', 'labelprop', 'cs'])
    ap.add_argument('--batch', type=int, default=4096, help='mini-batch rows of the MLP, SGC and SIGN heads and C&S base')
    ap.add_argument('--max-memory', type=float, default=4., help='GiB the hops may take in memory before going to .npy files')
    ap.add_argument('--select-budget', type=int, default=1000, help='images the selection stage chooses among all N')
    ap.add_argument('--select-strategies', nargs='+', default=None, help="default: the default strategy, probcover and herding")
    ap.add_argument('--no-select-eval', action='store_true', help='skip label propagation from the chosen rows against random rows')
    ap.add_argument('--stages', nargs='+', default=['recall', 'train', 'select'], help='optional stages to run (data, knn, csr always run)')
    ap.add_argument('--timeout', type=int, default=3600, help='seconds per stage')
    ap.add_argument('--tmp', default=None, help='work folder (default: a new temporary folder, removed at the end)')
    ap.add_argument('--json', help='write all results to this JSON file')
    ap.add_argument('--stage', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.stage: print(json.dumps(run_stage(json.loads(a.stage)), default=float)); return
    tmp = a.tmp or tempfile.mkdtemp(prefix='scalebench'); out = dict(argv=sys.argv[1:], cores=os.cpu_count(), threads=a.threads, d=a.d, k=a.k, label_rate=a.label_rate, runs=[])
    gen = dict(classes=a.classes, modes=a.modes, intrinsic=a.intrinsic, noise=a.noise, spread=a.spread, flip=a.flip)
    print(f"cores {os.cpu_count()}, threads {a.threads}, load average at start {os.getloadavg()[0]:.2f}; data {gen}; per stage: "
          "wall / CPU seconds, peak RSS (anonymous part), load average before→after", flush=True)
    try:
        for n in a.n:
            w = os.path.join(tmp, f'n{n}'); os.makedirs(w, exist_ok=True); nlist = round(a.nlist_factor * math.sqrt(n))
            base = dict(n=n, d=a.d, k=a.k, threads=a.threads, work=w, emb=os.path.join(w, 'emb'))
            run = dict(n=n, stages={}); out['runs'].append(run)
            def stage(name, key=None, **kw):
                key = key or name; r = child(dict(base, stage=name, **kw), a.timeout); run['stages'][key] = r
                if 'error' in r: print(f"{n:>9,} {key:<7} ERROR {r['error']}", flush=True); raise SystemExit(1)
                print(f"{n:>9,} {key:<7} {r['seconds']:8.1f} / {r['cpu_seconds']:8.1f} s  peak {r['peak_rss_mib'] / 1024:5.2f} GiB "
                      f"({r['peak_anon_mib'] / 1024:.2f})  load {r['load'][0]:.1f}→{r['load'][1]:.1f}", flush=True)
                return r
            stage('data', gen=gen)
            kn = stage('knn', nlist=nlist, nprobe=a.nprobe, train_size=a.train_per_list * nlist, niter=a.niter)
            print(f"          IVF {kn['params']}, directed-edge homophily {kn['homophily_directed']:.3f}", flush=True)
            rc = stage('recall', rows=a.recall_rows, params=kn['params']) if not a.no_peer and 'recall' in a.stages else None
            if rc:  # peers on CPU seconds (steadier than wall on a shared machine)
                per = kn['cpu_seconds'] / n; rc['faiss_whole_cpu'] = rc['faiss_train_cpu'] + rc['faiss_add_cpu'] + n * rc['faiss_scan_cpu_per_row']  # FAISS's IVF stage for all N rows, extrapolated from the sample
                rc['ratio_exact_vs_grouped'], rc['ratio_faiss_scan_vs_grouped'] = rc['exact_cpu_per_row'] / per, rc['faiss_scan_cpu_per_row'] / per
                rc['ratio_faiss_whole_vs_grouped'] = rc['faiss_whole_cpu'] / kn['cpu_seconds']
                print(f"          recall@{a.k} on {rc['recall_rows']:,} rows: {rc['recall']:.3f} (FAISS's own IVF scan: {rc['faiss_scan_recall']:.3f}); "
                      f"CPU ms per row: grouped IVF {per * 1e3:.3f} (whole stage, k-means included, / N), exact {rc['exact_cpu_per_row'] * 1e3:.3f} "
                      f"(×{rc['ratio_exact_vs_grouped']:.1f}), FAISS IVF scan {rc['faiss_scan_cpu_per_row'] * 1e3:.3f} (×{rc['ratio_faiss_scan_vs_grouped']:.1f}); "
                      f"FAISS's whole IVF stage (train {rc['faiss_train_cpu']:.1f} + add {rc['faiss_add_cpu']:.1f} CPU s + N scans) ×{rc['ratio_faiss_whole_vs_grouped']:.1f}", flush=True)
            cs = stage('csr', params=kn['params'], recall={k: rc[k] for k in ('recall', 'recall_rows')} if rc else {})
            print(f"          {cs['nnz']:,} entries (mean degree {cs['mean_degree']:.1f}), {cs['disk_mib']:.0f} MiB on disk, load_graph {cs['load_s'] * 1e3:.1f} ms", flush=True)
            if 'train' in a.stages:
                tr = stage('train', label_rate=a.label_rate, methods=a.methods, batch=a.batch, max_memory=a.max_memory)
                for name, s in tr['sub'].items():
                    print(f"          {name:<10} {s['seconds']:8.1f} / {s['cpu_seconds']:8.1f} s  peak {s['peak_rss_mib'] / 1024:5.2f} GiB ({s['peak_anon_mib'] / 1024:.2f})", flush=True)
                print(f"          split {tr['split']}; test accuracy: " + ', '.join(f"{m} {v['test_acc']:.3f} ({v['epochs']} ep)" for m, v in tr['methods'].items()), flush=True)
            if 'select' in a.stages:
                from gnn_image_classification.selection import DEFAULT_STRATEGY
                for strat in a.select_strategies or list(dict.fromkeys([DEFAULT_STRATEGY, 'probcover', 'herding'])):
                    r = stage('select', key=f'select:{strat}', budget=a.select_budget, strategy=strat, eval=not a.no_select_eval)
                    acc = r.get('labelprop_test_acc')
                    print(f"          {strat}: {a.select_budget:,} of {n:,} chosen in {r['select_seconds']:.1f} s (stage {r['seconds']:.1f} s wall, "
                          f"{r['cpu_seconds']:.1f} CPU s); {r['classes_hit']} of {a.classes} classes among them"
                          + (f"; labelprop test accuracy from them {acc['chosen']:.3f}, from {a.select_budget:,} random rows {acc['random']:.3f}" if acc else ''),
                          flush=True)
            pipe = [run['stages'][s] for s in ('knn', 'csr', 'train') if s in run['stages']]
            run['pipeline_seconds'] = sum(r['seconds'] for r in pipe); run['pipeline_cpu_seconds'] = sum(r['cpu_seconds'] for r in pipe)
            run['peak_rss_mib'] = max(r['peak_rss_mib'] for r in run['stages'].values())
            print(f"{n:>9,} pipeline ({' + '.join(s for s in ('knn', 'csr', 'train') if s in run['stages'])}; data generation, recall/peer and selection apart): {run['pipeline_seconds'] / 60:.1f} min wall, "
                  f"{run['pipeline_cpu_seconds'] / 60:.1f} CPU min; peak RSS of any stage {run['peak_rss_mib'] / 1024:.2f} GiB", flush=True)
            shutil.rmtree(w, ignore_errors=True)
    finally:
        if a.json:
            with open(a.json, 'w') as f: json.dump(out, f, indent=1, default=float)
        if not a.tmp: shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__': main()
