"""`gnnic embed` throughput: one process against `torchrun --nproc-per-node P` ranks, on a generated folder of JPEGs.

Each case embeds the same folder from scratch (a fresh output folder, no parts to reuse) in its own child process tree,
through the library's real path (`embed_folder`: image_folder walk, parts as cache entries, merge into an embedding folder):

    single-1t   one process, 1 torch thread, no DataLoader workers (what one rank does)
    single      one process, --threads torch threads, the library's default DataLoader workers (min(8, cores - 1))
    torchrun-P  `python -m torch.distributed.run --standalone --nproc-per-node P`: P ranks, 1 thread each, no workers, gloo

Per case it prints: img/s over the whole command (Python, torch and torchrun start-up included) and over `embed_folder`
alone (as timed by rank 0: walk, embedding, barrier and merge), wall and CPU seconds (all processes of the case),
peak RSS (the largest process, and the sum over the ranks, an upper bound of their peak together), the ratio against
`single` measured in the same run, the largest difference from `single`'s embeddings, and the load average.

    python bench/embed_shard.py                              # 256 images, resnet18 (random weights) at 224 px, P=2
    python bench/embed_shard.py --n 512 --backbone efficientnet_lite0 --ranks 2 4
"""
from __future__ import annotations
import argparse, json, os, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

def make_folder(root:Path, n:int, size:int=256, classes:int=4, seed:int=0):
    "n random-texture JPEGs (smoothed noise, so they compress like photos) in `classes` class folders."
    import numpy as np
    from PIL import Image, ImageFilter
    rng = np.random.default_rng(seed)
    for i in range(n):
        d = root/f'class{i % classes}'; d.mkdir(parents=True, exist_ok=True)
        im = Image.fromarray(rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)).resize((size, size), Image.BILINEAR)
        im.filter(ImageFilter.GaussianBlur(1)).save(d/f'img{i:05d}.jpg', quality=90)
    return root

def one(a):
    "Run `embed_folder` in this process (a rank, or the single process); write this process's resource use beside the output."
    import torch, warnings
    warnings.simplefilter('ignore')
    if a.threads: torch.set_num_threads(a.threads)
    from gnn_image_classification.distributed import embed_folder, dist_env
    weights = 'DEFAULT' if a.backbone == 'efficientnet_lite0' else None  # Lite0's weights are installed; the rest random (same cost)
    t = time.perf_counter()
    embed_folder(a.folder, a.out, a.backbone, weights, a.image_size, chunk=a.chunk, batch_size=a.batch_size, device='cpu',
                 num_workers=a.workers, progress=False)
    dt, (rank, world, _) = time.perf_counter() - t, dist_env()
    ru = resource.getrusage(resource.RUSAGE_SELF); rc = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(a.out, f'.bench_rank{rank}.json').write_text(json.dumps(dict(rank=rank, world=world, seconds=dt, threads=torch.get_num_threads(),
        peak_rss_mb=max(ru.ru_maxrss, rc.ru_maxrss) / 1024)))

def case(name, a, folder, out, ranks=1, threads=None, workers=None):
    "One case in a child process tree; returns its measurements."
    env = {**os.environ, 'OMP_WAIT_POLICY': 'PASSIVE'}
    env.pop('OMP_NUM_THREADS', None)
    args = [__file__, '--one', '--folder', str(folder), '--out', str(out), '--backbone', a.backbone, '--image-size', str(a.image_size),
            '--chunk', str(a.chunk), '--batch-size', str(a.batch_size)] + (['--threads', str(threads)] if threads else []) + \
           ([] if workers is None else ['--workers', str(workers)])
    cmd = [sys.executable, *args] if ranks == 1 else [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', str(ranks), *args]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t; r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode: sys.exit(f"{name} failed:\n{p.stderr[-4000:]}")
    per = [json.loads(f.read_text()) for f in sorted(Path(out).glob('.bench_rank*.json'))]
    return dict(case=name, ranks=ranks, threads=per[0]['threads'], wall=wall, cpu=(r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
                embed_s=next(o['seconds'] for o in per if o['rank'] == 0), peak_mb=max(o['peak_rss_mb'] for o in per),
                peak_sum_mb=sum(o['peak_rss_mb'] for o in per), out=out)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=256, help='images (default 256)')
    p.add_argument('--backbone', default='resnet18'); p.add_argument('--image-size', type=int, default=224)
    p.add_argument('--ranks', type=int, nargs='+', default=[2], help='torchrun --nproc-per-node values (default: 2)')
    p.add_argument('--threads', type=int, help="torch threads of the `single` case (default 2)")
    p.add_argument('--chunk', type=int, default=64, help='images per part (default 64)')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--one', action='store_true', help=argparse.SUPPRESS)  # internal: run embed_folder in this process
    p.add_argument('--folder', help=argparse.SUPPRESS); p.add_argument('--out', help=argparse.SUPPRESS)
    p.add_argument('--workers', type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one: one(a); return 0
    import numpy as np
    from gnn_image_classification.data import read_embeddings_dir
    tmp = Path(tempfile.mkdtemp(prefix='embed_shard_'))
    try:
        load0 = os.getloadavg(); folder = make_folder(tmp/'images', a.n)
        rows = [case('single', a, folder, tmp/'single', threads=a.threads or 2), case('single-1t', a, folder, tmp/'single1', threads=1, workers=0)]
        rows += [case(f'torchrun-{P}', a, folder, tmp/f'tr{P}', ranks=P) for P in a.ranks]
        load1 = os.getloadavg()
        ref = read_embeddings_dir(rows[0]['out'])
        print(f"\n{'case':12} {'ranks':>5} {'thr':>3} {'img/s':>7} {'img/s emb':>9} {'wall s':>7} {'CPU s':>7} {'emb s':>6} {'peak MB':>8} {'sum MB':>7} {'vs single':>9} {'max |Δ|':>8}"
              f"   (N={a.n}, {a.backbone} at {a.image_size} px, parts of {a.chunk}, batch {a.batch_size}, CPU)")
        for r in rows:
            es = read_embeddings_dir(r['out']); assert es.names == ref.names
            r['max_abs_diff'] = float(np.abs(es.x - ref.x).max())
            r['img_s'], r['img_s_embed'] = a.n / r['wall'], a.n / r['embed_s']
            print(f"{r['case']:12} {r['ranks']:5} {r['threads']:3} {r['img_s']:7.2f} {r['img_s_embed']:9.2f} {r['wall']:7.1f} {r['cpu']:7.1f} {r['embed_s']:6.1f} "
                  f"{r['peak_mb']:8.0f} {r['peak_sum_mb']:7.0f} {r['wall'] and rows[0]['wall'] / r['wall']:8.2f}× {r['max_abs_diff']:8.1e}")
        print("img/s: over the whole command; img/s emb: over embed_folder on rank 0; vs single: speed-up in wall time over `single`")
        print(f"load average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} on {os.cpu_count()} CPUs")
        if a.json: Path(a.json).write_text(json.dumps([{k: v for k, v in r.items() if k != 'out'} | dict(load_before=load0, load_after=load1) for r in rows], indent=1))
    finally: shutil.rmtree(tmp, ignore_errors=True)
    return 0

if __name__ == '__main__': sys.exit(main())
