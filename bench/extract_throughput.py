"""Embedding-extraction throughput on the CPU: images/s for ResNet-18 and VGG16 at 224 pixels with random weights.

Each backbone is measured in its own subprocess (so peak memory is its own), through the library's real path
(`embed_images`: preprocessing in DataLoader workers, batched forward under inference_mode). A plain float32 matmul
is timed in the same run as the machine reference, so numbers from different machines can be compared:
`img/s per matmul-GFLOP/s` and the efficiency (model GFLOP/s achieved over matmul GFLOP/s).

    python bench/extract_throughput.py                       # resnet18 and vgg16, 32 images, batch 16, in memory
    python bench/extract_throughput.py --source files --workers 2 --n 64
    python bench/extract_throughput.py --json bench_out.json

`--source files` writes N random JPEGs to a temporary folder and reads them through `image_folder`, so decoding
and workers count; `memory` feeds a uint8 array. Random weights: no download, same cost as pretrained ones.
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

def one(backbone, n, batch_size, workers, source, image_size, device):
    "Measure one backbone in this process; returns a dict."
    import numpy as np, torch, warnings
    warnings.simplefilter('ignore')
    from gnn_image_classification.embeddings import get_backbone, embed_images, resolve_weights
    from torchvision.models import get_model_weights
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, image_size, image_size, 3), dtype=np.uint8)
    t = time.perf_counter(); bb = get_backbone(backbone); t_build = time.perf_counter() - t
    if source == 'files':
        from PIL import Image
        from gnn_image_classification.images import image_folder
        tmp = Path(tempfile.mkdtemp())
        for i, im in enumerate(imgs):
            (tmp/f'c{i % 2}').mkdir(exist_ok=True); Image.fromarray(im).save(tmp/f'c{i % 2}'/f'{i}.jpg', quality=90)
        data = image_folder(tmp)
    else: data = imgs
    embed_images(imgs[:min(batch_size, n)], bb, batch_size=batch_size, num_workers=0, progress=False, device=device)  # warm-up
    t = time.perf_counter()
    x = embed_images(data, bb, batch_size=batch_size, num_workers=workers, progress=False, device=device)
    dt = time.perf_counter() - t
    assert x.shape == (n, bb.dim)
    ops = get_model_weights(backbone).DEFAULT.meta.get('_ops')  # GFLOPs per 224-px image of the full model
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if source == 'files':  # workers are child processes: count their peak too
        peak_mb = max(peak_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    cuda_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() and str(device).startswith('cuda') else None
    return dict(backbone=backbone, n=n, batch_size=batch_size, workers=workers, source=source, image_size=image_size,
                device=str(device), threads=torch.get_num_threads(), seconds=dt, images_per_s=n / dt, build_s=t_build,
                gflops_per_image=ops, model_gflops_per_s=None if ops is None else ops * n / dt, peak_rss_mb=peak_mb, peak_cuda_mb=cuda_mb)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--backbones', nargs='+', default=['resnet18', 'vgg16'])
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
        print(json.dumps(one(a.one, a.n, a.batch_size, a.workers, a.source, a.image_size, a.device))); return 0
    import torch
    ref = matmul_gflops()
    print(f"reference: float32 1024² matmul {ref:.1f} GFLOP/s, {torch.get_num_threads()} threads, torch {torch.__version__}")
    rows = []
    for b in a.backbones:
        cmd = [sys.executable, __file__, '--one', b, '--n', str(a.n), '--batch-size', str(a.batch_size), '--workers', str(a.workers),
               '--source', a.source, '--image-size', str(a.image_size), '--device', a.device]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode: print(out.stderr, file=sys.stderr); return out.returncode
        r = json.loads(out.stdout.strip().splitlines()[-1]); r['matmul_gflops'] = ref
        r['img_s_per_matmul_gflops'] = r['images_per_s'] / ref
        r['efficiency'] = None if r['model_gflops_per_s'] is None else r['model_gflops_per_s'] / ref
        rows.append(r)
    print(f"\n{'backbone':10} {'img/s':>8} {'img/s per GFLOP/s':>18} {'model GFLOP/s':>14} {'of matmul':>9} {'peak RSS MB':>12}"
          f"   (N={a.n}, batch {a.batch_size}, workers {a.workers}, {a.source}, {a.image_size}px, {a.device})")
    for r in rows:
        eff = '' if r['efficiency'] is None else f"{r['efficiency']:.0%}"
        print(f"{r['backbone']:10} {r['images_per_s']:8.2f} {r['img_s_per_matmul_gflops']:18.4f} {r['model_gflops_per_s'] or float('nan'):14.1f} {eff:>9} {r['peak_rss_mb']:12.0f}")
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]: print(f"{r['backbone']} is {base['images_per_s'] / r['images_per_s']:.1f}× slower than {base['backbone']} per image")
    if a.json: Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0

if __name__ == '__main__': sys.exit(main())
