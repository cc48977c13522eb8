"""Benchmark training by precomputed propagation (issue 14, item 3): SGC/SIGN hops Â^k X computed once with sparse CSR
products, mini-batch heads on them, PyG's label propagation, on synthetic class-structured data, against the previous
full-batch path (PyG's `SGConv` trained on the whole graph every epoch) at N = 100,000 in the same run.

Data: N embeddings of d = 512 (a random unit centre per class plus Gaussian noise, L2-normalised), written to an .npy
that every case memory-maps; a cheap kNN-like graph: each node links to 10 random nodes, each of its own class with
probability --p and of any class otherwise, symmetrised (union of directions, weight 1), written as CSR .npy arrays.
Labelled nodes: --labels (default 10,000), validation: --val (10,000), test: the rest.

Cases, each in its own process (wall and CPU seconds, peak RSS = VmHWM, which counts the memory-mapped pages read):
  precompute K   adjacency + hops X..Â^K X (in memory up to --max-memory GiB, else streamed to .npy files),
                 then seconds per training epoch of the SGC and SIGN heads on them (3 epochs, no validation);
                 "disk": the largest K again with its hops forced to .npy files (when they would fit in memory)
  pipeline       `methods.fit_at_scale`: task, adjacency, one propagation (K=2), SGC, SIGN (early stopping on val),
                 label propagation; per-stage seconds and test accuracies
  pyg_sgconv     the previous `sgc` (N = 100,000 only): PyG `SGConv` (cached) trained full-batch by the same trainer

    python bench/propagation.py                 # N = 100,000 (about 10 minutes on 2 busy cores)
    python bench/propagation.py --full          # also N = 1,000,000 (the issue's scale; about 30 minutes, ≈ 12 GB disk)

Not a test: timings depend on the machine and its load (the load average before/after each case is printed).
"""
from __future__ import annotations
import argparse, json, os, resource, shutil, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_build import _rss_mib, in_child


def make_data(folder, n, d=512, classes=10, noise=8.0, links=10, p=0.7, seed=0):
    "Write x.npy (memory-mappable), y.npy and the graph as CSR (indptr.npy, indices.npy, weights.npy), in chunks."
    import numpy as np, scipy.sparse as sp
    rng = np.random.default_rng(seed); os.makedirs(folder, exist_ok=True)
    centres = rng.standard_normal((classes, d)).astype(np.float32); centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = rng.integers(0, classes, n); np.save(f'{folder}/y.npy', y)
    x = np.lib.format.open_memmap(f'{folder}/x.npy', 'w+', np.float32, (n, d))
    for s in range(0, n, 50_000):
        e = min(s + 50_000, n); b = centres[y[s:e]] + noise / np.sqrt(d) * rng.standard_normal((e - s, d), dtype=np.float32)
        x[s:e] = b / np.linalg.norm(b, axis=1, keepdims=True)
    x.flush(); del x
    order = np.argsort(y, kind='stable'); starts = np.searchsorted(y[order], np.arange(classes + 1))
    same = rng.random((n, links)) < p  # link inside the class (a random member of it), else to any node
    c = y[:, None].repeat(links, 1); lo, hi = starts[c], starts[c + 1]
    own = order[lo + (rng.random((n, links)) * (hi - lo)).astype(np.int64)]
    nb = np.where(same, own, rng.integers(0, n, (n, links)))
    A = sp.csr_matrix((np.ones(n * links, np.float32), (np.repeat(np.arange(n), links), nb.ravel())), shape=(n, n))
    A = (A + A.T).tocsr(); A.data[:] = 1; A.setdiag(0); A.eliminate_zeros()
    for k, v in dict(indptr=A.indptr.astype(np.int64), indices=A.indices.astype(np.int64), weights=A.data.astype(np.float32)).items():
        np.save(f'{folder}/{k}.npy', v)
    return A.nnz


def _split(n, labels, val, seed=0):
    import numpy as np
    perm = np.random.default_rng(seed + 1).permutation(n)
    return dict(train=np.sort(perm[:labels]), val=np.sort(perm[labels:labels + val]), test=np.sort(perm[labels + val:]))


def _load(folder):
    import numpy as np
    x = np.load(f'{folder}/x.npy', mmap_mode='r'); y = np.load(f'{folder}/y.npy')
    g = tuple(np.load(f'{folder}/{k}.npy', mmap_mode='r') for k in ('indptr', 'indices', 'weights'))
    return x, y, g


def _task(x, y, g, split):
    import torch
    from torch_geometric.data import Data
    from gnn_image_classification.methods import make_task
    from gnn_image_classification.propagation import csr_to_edge_index, _as_tensor
    ei, w = csr_to_edge_index(*g)
    return make_task(Data(x=_as_tensor(x), edge_index=ei, edge_weight=w, y=torch.as_tensor(y)), split['train'], split['val'], split['test'], device='cpu')


def child(case, timeout, env):
    "`in_child`, with a case that runs past `timeout` recorded as an error row instead of ending the benchmark."
    import subprocess
    try: return in_child(__file__, case, timeout, env)
    except subprocess.TimeoutExpired: return dict(error=f"timed out after {timeout} s", load=(os.getloadavg()[0],) * 2)


def run_case(case):
    "One measurement in this process (imports and loading first, then the clock starts)."
    import numpy as np, torch
    torch.set_num_threads(case['threads'])
    from gnn_image_classification import methods as M
    from gnn_image_classification.propagation import gcn_adjacency, propagate
    from torch_geometric import seed_everything
    x, y, g = _load(case['data']); split = _split(len(y), case['labels'], case['val']); what = case['what']; res = {}
    base = _rss_mib(); ru = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter(); clock = [t0, time.process_time()]
    def lap(stage=None, per=1): # wall and CPU seconds since the last lap, as `stage`_seconds and `stage`_cpu (divided by `per`)
        if stage: res[f'{stage}_seconds'], res[f'{stage}_cpu'] = (time.perf_counter() - clock[0]) / per, (time.process_time() - clock[1]) / per
        clock[:] = time.perf_counter(), time.process_time()
    if what == 'precompute':
        task = _task(x, y, g, split); lap('task')
        adj = gcn_adjacency(task.edge_index, task.edge_weight, len(y)); lap('adjacency')
        task.hops = propagate(task.x, adj, case['K'], case.get('path'), case['max_memory']); lap('propagate')
        res['on'] = 'disk' if isinstance(task.hops.hops[-1], np.memmap) else 'memory'
        del adj; t_end, ru_end, peak = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), _rss_mib('VmHWM')
        for name in ('sgc', 'sign'):  # seconds per training epoch: one pass over the labelled nodes in shuffled batches
            hp = dict(M.DEFAULTS[name], K=case['K']); ft = M._feature_tasks(name, [task], case['K'])
            m = M._model(name, ft[0], hp, 0); M.train([m], ft, hp, 0, fixed_epochs=1)  # warm-up epoch
            lap(); M.train([m], ft, hp, 0, fixed_epochs=3); lap(f'{name}_epoch', 3)
        res['peak_after_epochs_mib'] = _rss_mib('VmHWM')
    elif what == 'pipeline':
        out = M.fit_at_scale(x, g, y, split, methods=tuple(case['methods']), path=case.get('path'), max_memory=case['max_memory'])
        res.update({f'{k}_seconds': v for k, v in out['seconds'].items()}, methods=out['methods'])
        res.update({f'{k}_cpu': v for k, v in out['cpu_seconds'].items()})
    elif what == 'pyg_sgconv':
        import torch.nn as nn, torch.nn.functional as F
        from torch_geometric.nn import SGConv
        class FullBatchSGC(nn.Module):
            def __init__(self, d, c, K): super().__init__(); self.conv = SGConv(d, c, K=K, cached=True)
            def forward(self, x, edge_index, edge_weight=None): return F.log_softmax(self.conv(x, edge_index, edge_weight), dim=-1)
        task = _task(x, y, g, split); lap('task')
        hp = dict(M.DEFAULTS['sgc'], batch_size=None); seed_everything(0); m = FullBatchSGC(x.shape[1], task.n_classes, hp['K'])
        lap(); M.train([m], [task], hp, 0, fixed_epochs=1); lap('first_epoch')  # propagates, caches
        M.train([m], [task], hp, 0, fixed_epochs=3); lap('epoch', 3)
        seed_everything(0); m = FullBatchSGC(x.shape[1], task.n_classes, hp['K'])
        lap(); ep, eps, _ = M.train([m], [task], hp, 0); p = M._probs(m, task); lap('fit')
        res.update(epochs=len(eps), test_acc=float((p[split['test']].argmax(1).numpy() == y[split['test']]).mean()))
    else: raise ValueError(what)
    if what != 'precompute': t_end, ru_end, peak = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), _rss_mib('VmHWM')
    res.update(seconds=t_end - t0, cpu_seconds=ru_end.ru_utime + ru_end.ru_stime - ru.ru_utime - ru.ru_stime, peak_rss_mib=peak, base_rss_mib=base)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', nargs='+', type=int, default=[100_000])
    ap.add_argument('--full', action='store_true', help='add N = 1,000,000')
    ap.add_argument('--dim', type=int, default=512)
    ap.add_argument('--classes', type=int, default=10)
    ap.add_argument('--noise', type=float, default=8.0, help="Gaussian noise norm relative to the unit class centre (8: logistic regression on 1,000 labels ≈ 0.75)")
    ap.add_argument('--p', type=float, default=0.7, help='probability that a link stays inside its class')
    ap.add_argument('--labels', type=int, default=10_000)
    ap.add_argument('--val', type=int, default=10_000)
    ap.add_argument('--Ks', nargs='+', type=int, default=[2, 3])
    ap.add_argument('--max-memory', type=float, default=4, help='GiB the hops may take in memory before going to disk')
    ap.add_argument('--no-disk', action='store_true', help="skip the case that forces the largest K's hops to disk when they would fit in memory")
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--methods', nargs='+', default=['sgc', 'sign', 'labelprop'])
    ap.add_argument('--timeout', type=int, default=3600, help='seconds per case')
    ap.add_argument('--tmp', default=None, help='folder for data and on-disk hops (default: a new temporary folder, removed at the end)')
    ap.add_argument('--json', help='also write all results to this JSON file')
    ap.add_argument('--case', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case: print(json.dumps(run_case(json.loads(a.case)))); return
    sizes = sorted(set(a.sizes + ([1_000_000] if a.full else [])))
    tmp = a.tmp or tempfile.mkdtemp(prefix='propbench'); rows = []
    env = dict(OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY=os.environ.get('OMP_WAIT_POLICY', 'PASSIVE'))
    print("per stage: wall/CPU seconds (CPU counts every thread; on a busy machine it is the steadier number)")
    print(f"cores: {os.cpu_count()}  threads: {a.threads}  load average at start: {os.getloadavg()[0]:.2f}  d={a.dim} classes={a.classes} "
          f"noise={a.noise} p={a.p} labelled={a.labels} val={a.val}", flush=True)

    def rec(n, what, r, **kw):
        row = dict(n=n, what=what, **kw, **r); rows.append(row)
        if 'error' in r: print(f"  {n:>9,} {what:<16} ERROR {r['error']}", flush=True); return row
        skip = {'seconds', 'cpu_seconds', 'peak_rss_mib', 'base_rss_mib', 'load', 'methods'}
        extra = ' '.join(f"{k.removesuffix('_seconds')}={v:.2f}/{r.get(k.removesuffix('_seconds') + '_cpu', float('nan')):.2f}s" if k.endswith('_seconds')
                         else f"{k}={v}" for k, v in r.items() if k not in skip and not k.endswith('_cpu'))
        if 'methods' in r: extra += ' ' + ' '.join(f"{m}: acc {v['test_acc']:.3f} ({v['epochs']} ep)" for m, v in r['methods'].items())
        print(f"  {n:>9,} {what:<16} {r['seconds']:8.1f} s (cpu {r['cpu_seconds']:7.1f} s)  peak {r['peak_rss_mib'] / 1024:5.2f} GiB  "
              f"load {r['load'][0]:.1f}→{r['load'][1]:.1f}  {extra}", flush=True)
        return row

    try:
        for n in sizes:
            folder = os.path.join(tmp, f'n{n}'); t0 = time.perf_counter()
            nnz = make_data(folder, n, a.dim, a.classes, a.noise, p=a.p)
            print(f"N = {n:,}: data and graph written in {time.perf_counter() - t0:.1f} s ({nnz:,} directed edges, {nnz / n:.1f} per node)", flush=True)
            base = dict(data=folder, labels=a.labels, val=a.val, threads=a.threads, max_memory=int(a.max_memory * 2**30))
            for K in a.Ks:
                rec(n, f'precompute K={K}', child(dict(base, what='precompute', K=K, path=os.path.join(folder, f'hops{K}')), a.timeout, env), K=K)
                shutil.rmtree(os.path.join(folder, f'hops{K}'), ignore_errors=True)
            if not a.no_disk and max(a.Ks) * n * a.dim * 4 <= base['max_memory']:  # the largest K once more, its hops forced to .npy files
                K = max(a.Ks); case = dict(base, what='precompute', K=K, path=os.path.join(folder, 'hops_disk'), max_memory=0)
                rec(n, f'precompute K={K} disk', child(case, a.timeout, env), K=K); shutil.rmtree(case['path'], ignore_errors=True)
            pipe = rec(n, 'pipeline', child(dict(base, what='pipeline', methods=a.methods, path=os.path.join(folder, 'hops')), a.timeout, env))
            if n == 100_000:
                old = rec(n, 'pyg_sgconv', child(dict(base, what='pyg_sgconv'), a.timeout, env))
                if 'error' not in old and 'error' not in pipe and 'sgc_seconds' in pipe:
                    ours = pipe['adjacency_seconds'] + pipe['propagate_seconds'] + pipe['sgc_seconds']
                    print(f"  SGC at N = 100,000: precomputed (adjacency + propagation + fit) {ours:.1f} s vs full-batch SGConv fit "
                          f"{old['fit_seconds']:.1f} s: ratio {ours / old['fit_seconds']:.2f}; accuracy {pipe['methods']['sgc']['test_acc']:.3f} vs "
                          f"{old['test_acc']:.3f}", flush=True)
            if n == 1_000_000 and 'error' not in pipe:
                work = sum(v for k, v in pipe.items() if k.endswith('_seconds'))
                print(f"  target at 10^6 (propagation + training ≈ 10 min, peak RSS ≤ 12 GiB): {work / 60:.1f} min, "
                      f"peak {pipe['peak_rss_mib'] / 1024:.2f} GiB", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not a.tmp: shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        with open(a.json, 'w') as f: json.dump(rows, f, indent=1, default=str)


if __name__ == '__main__': main()
