"""Embedding-extraction throughput on the CPU: images/s of EfficientNet-Lite0 (the default), VGG16 and ResNet-18 at 224 pixels.

Each backbone is measured in its own subprocess (so peak memory is its own), through the library's real path
(`embed_images`: preprocessing in DataLoader workers, batched forward under inference_mode). A plain float32 matmul
is timed in the same run as the machine reference, so numbers from different machines can be compared:
`img/s per matmul-GFLOP/s` and the efficiency (model GFLOP/s achieved over matmul GFLOP/s).

    python bench/extract_throughput.py                       # efficientnet_lite0, vgg16, resnet18; 32 images, batch 16
    python bench/extract_throughput.py --threads 2 --n 64    # the issue-12 comparison: 2 threads, 224 px, batch 16
    python bench/extract_throughput.py --source files --workers 2 --n 64
    python bench/extract_throughput.py --json bench_out.json

`--source files` writes N random JPEGs to a temporary folder and reads them through `image_folder`, so decoding
and workers count; `memory` feeds a uint8 array. Lite0 runs with its pretrained weights (installed with the package, so
no download); torchvision's backbones with random weights (no download, same cost as pretrained ones). Each case prints
wall and CPU seconds, peak RSS, its ratio against every other backbone of the same run, and the load average before and
after (other jobs on the machine slow every case; compare only numbers from one run).
"""
from __future__ import annotations
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

def matmul_gflops(n=1024, seconds=1.0):
    """float32 matmul GFLOP/s on this machine: median over repeated n×n products for about `seconds` (median, not best,
    so that a loaded machine slows the reference as it slows the backbones)."""
    import statistics, torch
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b  # warm-up
    rates, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter(); a @ b; rates.append(2 * n ** 3 / (time.perf_counter() - t) / 1e9)
    return statistics.median(rates)

def one(backbone, n, batch_size, workers, source, image_size, device, threads=None):
    "Measure one backbone in this process; returns a dict."
    import numpy as np, torch, warnings
    warnings.simplefilter('ignore')
    if threads: torch.set_num_threads(threads)
    from gnn_image_classification.embeddings import get_backbone, embed_images, resolve_weights
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, image_size, image_size, 3), dtype=np.uint8)
    weights = 'DEFAULT' if backbone == 'efficientnet_lite0' else None  # Lite0's weights are local; the rest: random, same cost
    t = time.perf_counter(); bb = get_backbone(backbone, weights); t_build = time.perf_counter() - t
    if source == 'files':
        from PIL import Image
        from gnn_image_classification.images import image_folder
        tmp = Path(tempfile.mkdtemp())
        for i, im in enumerate(imgs):
            (tmp/f'c{i % 2}').mkdir(exist_ok=True); Image.fromarray(im).save(tmp/f'c{i % 2}'/f'{i}.jpg', quality=90)
        data = image_folder(tmp)
    else: data = imgs
    embed_images(imgs[:min(batch_size, n)], bb, batch_size=batch_size, num_workers=0, progress=False, device=device)  # warm-up
    t, c = time.perf_counter(), time.process_time()
    x = embed_images(data, bb, batch_size=batch_size, num_workers=workers, progress=False, device=device)
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    assert x.shape == (n, bb.dim)
    ops = resolve_weights(backbone, 'DEFAULT').meta.get('_ops')  # GMACs per 224-px image of the full model
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if source == 'files':  # workers are child processes: count their peak too
        peak_mb = max(peak_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    cuda_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() and str(device).startswith('cuda') else None
    return dict(backbone=backbone, n=n, batch_size=batch_size, workers=workers, source=source, image_size=image_size,
                device=str(device), threads=torch.get_num_threads(), seconds=dt, cpu_s=cpu, images_per_s=n / dt, build_s=t_build, weights=bb.weights_name,
                gflops_per_image=ops, model_gflops_per_s=None if ops is None else ops * n / dt, peak_rss_mb=peak_mb, peak_cuda_mb=cuda_mb)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--backbones', nargs='+', default=['efficientnet_lite0', 'vgg16', 'resnet18'])
    p.add_argument('--threads', type=int, help='torch threads per backbone (default: torch\'s own choice)')
    p.add_argument('--n', type=int, default=32, help='images per backbone (default 32)')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--workers', type=int, default=0, help='DataLoader workers (default 0)')
    p.add_argument('--source', choices=['memory', 'files'], default='memory')
    p.add_argument('--image-size', type=int, default=224)
    p.add_argument('--device', default='cpu')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--one', help=argparse.SUPPRESS)  # internal: measure one backbone, print JSON
    a = p.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.one, a.n, a.batch_size, a.workers, a.source, a.image_size, a.device, a.threads))); return 0
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    load0 = os.getloadavg()
    ref = matmul_gflops()
    print(f"reference: float32 1024² matmul {ref:.1f} GFLOP/s, {torch.get_num_threads()} threads, torch {torch.__version__}")
    rows = []
    for b in a.backbones:
        cmd = [sys.executable, __file__, '--one', b, '--n', str(a.n), '--batch-size', str(a.batch_size), '--workers', str(a.workers),
               '--source', a.source, '--image-size', str(a.image_size), '--device', a.device] + (['--threads', str(a.threads)] if a.threads else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode: print(out.stderr, file=sys.stderr); return out.returncode
        r = json.loads(out.stdout.strip().splitlines()[-1]); r['matmul_gflops'] = ref
        r['img_s_per_matmul_gflops'] = r['images_per_s'] / ref
        r['efficiency'] = None if r['model_gflops_per_s'] is None else r['model_gflops_per_s'] / ref
        rows.append(r)
    print(f"\n{'backbone':18} {'img/s':>8} {'wall s':>7} {'CPU s':>7} {'img/CPU-s':>9} {'img/s per GFLOP/s':>18} {'model GFLOP/s':>13} {'peak RSS MB':>12}"
          f"   (N={a.n}, batch {a.batch_size}, workers {a.workers}, {a.source}, {a.image_size}px, {a.device}, {rows[0]['threads']} threads)")
    for r in rows:
        print(f"{r['backbone']:18} {r['images_per_s']:8.2f} {r['seconds']:7.2f} {r['cpu_s']:7.2f} {r['n'] / r['cpu_s']:9.2f} {r['img_s_per_matmul_gflops']:18.4f} "
              f"{r['model_gflops_per_s'] or float('nan'):13.1f} {r['peak_rss_mb']:12.0f}   weights {r['weights'] or 'random'}")
    for r in rows:
        others = [f"{r['images_per_s'] / o['images_per_s']:.2f}× {o['backbone']}" for o in rows if o is not r]
        if others: print(f"{r['backbone']} images/s = " + ', '.join(others))
    for r in rows:  # per CPU-second: less sensitive to other jobs on a shared machine than wall-clock rates
        others = [f"{(r['n'] / r['cpu_s']) / (o['n'] / o['cpu_s']):.2f}× {o['backbone']}" for o in rows if o is not r]
        if others: print(f"{r['backbone']} images per CPU-second = " + ', '.join(others))
    load1 = os.getloadavg()
    print(f"load average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}"
          f" on {os.cpu_count()} CPUs")
    for r in rows: r['load_before'], r['load_after'] = load0, load1
    if a.json: Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0

if __name__ == '__main__': sys.exit(main())
