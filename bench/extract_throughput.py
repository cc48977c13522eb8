"""Embedding-extraction throughput: images/s of EfficientNet-Lite0 (the default), VGG16 and ResNet-18 at 224 pixels, each in
float32 (the plain loop), channels-last, reduced precision (bf16 on a CPU with native bf16; fp16/bf16 on a GPU) and both,
and how far reduced precision moves the k=10 cosine kNN graph of real images.

Each case (backbone × variant) runs in its own subprocess (so peak memory is its own), through the library's real path
(`embed_images`: preprocessing in DataLoader workers, batched forward under inference_mode, `precision=` / `channels_last=`).
A plain float32 matmul is timed in the same run as the machine reference, so numbers from different machines can be compared
(`img/s per matmul-GFLOP/s`, and the efficiency: model GFLOP/s achieved over matmul GFLOP/s). Every case prints wall and CPU
seconds, peak RSS, and its images/s as a ratio of the plain float32 loop of the same backbone in the same run.

    python bench/extract_throughput.py                        # 3 backbones × (fp32, channels_last, bf16, bf16+cl); 32 images, batch 16
    python bench/extract_throughput.py --threads 2 --n 64 --agreement 1797 --json extract.json     # the full table (see below)
    python bench/extract_throughput.py --device cuda --n 512 --batch-size 64 --agreement 1797
    python bench/extract_throughput.py --source files --workers 2 --n 64

The full table of issue 13 (2 threads, 64 images per case, 12 cases, then the agreement on all 1,797 digits for channels_last,
bf16 and bf16_cl): estimated 6-8 minutes on an idle 2-core machine with native bf16 (not timed idle: on a 2-core AVX2 machine at
load average 22, `--n 16` without bf16 and without the agreement took 17 minutes), most of it VGG16 and three 1,797-digit
embeddings (the float32 ones come from the default embedding cache after the first run). `--agreement N` embeds the first N digits of `digits_cnn` (rendered digits, pretrained
Lite0) in each reduced precision and reports the share of the float32 kNN graph's edges (k=10, cosine, undirected) that its
graph keeps, and the cosine of each image's features to its float32 features.

bf16 runs on a CPU only where it is native (`avx512_bf16` or AMX); elsewhere its cases are skipped with a note, or emulated
with `--emulate-bf16` (same roundings, several times slower than float32: its speed means nothing, its agreement does).
`--source files` writes N random JPEGs to a temporary folder and reads them through `image_folder`, so decoding and workers
count; `memory` feeds a uint8 array. Lite0 runs with its pretrained weights (installed with the package, so no download);
torchvision's backbones with random weights (no download, same cost as pretrained ones). The load average before and after is
printed: other jobs on the machine slow every case, so compare only numbers from one run.
"""
from __future__ import annotations
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

VARIANTS = dict(fp32=('fp32', False), channels_last=('fp32', True), bf16=('bf16', False), bf16_cl=('bf16', True),
                fp16=('fp16', False), fp16_cl=('fp16', True))

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

def _emulate_bf16():
    "Let bf16 run on a CPU without native bf16 (emulated: for numerics only)."
    import gnn_image_classification.embeddings as E
    E.cpu_has_bf16 = lambda: True

def one(backbone, n, batch_size, workers, source, image_size, device, threads=None, variant='fp32', emulate=False):
    "Measure one backbone in one variant in this process; returns a dict."
    import numpy as np, torch, warnings
    warnings.simplefilter('ignore')
    if threads: torch.set_num_threads(threads)
    if emulate: _emulate_bf16()
    from gnn_image_classification.embeddings import get_backbone, embed_images, resolve_weights
    precision, cl = VARIANTS[variant]
    kw = dict(batch_size=batch_size, progress=False, device=device, precision=precision, channels_last=cl)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, image_size, image_size, 3), dtype=np.uint8)
    weights = 'DEFAULT' if backbone == 'efficientnet_lite0' else None  # Lite0's weights are local; the rest: random, same cost
    t = time.perf_counter(); bb = get_backbone(backbone, weights); t_build = time.perf_counter() - t
    if source == 'files':
        from PIL import Image
        from gnn_image_classification.sources import image_folder
        tmp = Path(tempfile.mkdtemp())
        for i, im in enumerate(imgs):
            (tmp/f'c{i % 2}').mkdir(exist_ok=True); Image.fromarray(im).save(tmp/f'c{i % 2}'/f'{i}.jpg', quality=90)
        data = image_folder(tmp)
    else: data = imgs
    embed_images(imgs[:min(batch_size, n)], bb, num_workers=0, **kw)  # warm-up
    if str(device).startswith('cuda'): torch.cuda.synchronize()
    t, c = time.perf_counter(), time.process_time()
    x = embed_images(data, bb, num_workers=workers, **kw)
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    assert x.shape == (n, bb.dim) and x.dtype == np.float32
    ops = resolve_weights(backbone, 'DEFAULT').meta.get('_ops')  # GMACs per 224-px image of the full model
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if source == 'files':  # workers are child processes: count their peak too
        peak_mb = max(peak_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    cuda_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() and str(device).startswith('cuda') else None
    return dict(backbone=backbone, variant=variant, n=n, batch_size=batch_size, workers=workers, source=source, image_size=image_size,
                device=str(device), threads=torch.get_num_threads(), seconds=dt, cpu_s=cpu, images_per_s=n / dt, build_s=t_build, weights=bb.weights_name,
                gflops_per_image=ops, model_gflops_per_s=None if ops is None else ops * n / dt, peak_rss_mb=peak_mb, peak_cuda_mb=cuda_mb,
                emulated=bool(emulate and precision == 'bf16' and str(device) == 'cpu'))

def agreement(n, precision, device, threads=None, emulate=False, k=10):
    "Edge agreement of the k-NN graph of the first `n` digits_cnn images in `precision` with the float32 one; a dict."
    import numpy as np, torch, warnings
    warnings.simplefilter('ignore')
    if threads: torch.set_num_threads(threads)
    if emulate: _emulate_bf16()
    from gnn_image_classification.cache import load_digits_cnn_embeddings
    from gnn_image_classification.graph import knn_graph
    f = load_digits_cnn_embeddings(n=n, progress=False, device=device)  # float32: the default cache (computed once per machine)
    t, c = time.perf_counter(), time.process_time()
    p, cl = VARIANTS[precision]
    r = load_digits_cnn_embeddings(n=n, cache=Path(tempfile.mkdtemp()), progress=False, device=device, precision=p, channels_last=cl)
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    ea, eb = (set(map(tuple, knn_graph(x, k=k).edge_index.T.tolist())) for x in (f.x, r.x))
    cos = (f.x * r.x).sum(1)
    return dict(variant=precision, n=n, k=k, edges=len(ea), agreement=len(ea & eb) / len(ea), jaccard=len(ea & eb) / len(ea | eb),
                cos_min=float(cos.min()), cos_median=float(np.median(cos)), seconds=dt, cpu_s=cpu,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, device=str(device))

def _child(args):
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode: print(out.stderr, file=sys.stderr); raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--backbones', nargs='+', default=['efficientnet_lite0', 'vgg16', 'resnet18'])
    p.add_argument('--variants', nargs='+', choices=list(VARIANTS), help='default: fp32 channels_last bf16 bf16_cl (CPU); '
                   'fp32 channels_last fp16 fp16_cl bf16 bf16_cl (GPU)')
    p.add_argument('--threads', type=int, help='torch threads per case (default: torch\'s own choice)')
    p.add_argument('--n', type=int, default=32, help='images per case (default 32)')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--workers', type=int, default=0, help='DataLoader workers (default 0)')
    p.add_argument('--source', choices=['memory', 'files'], default='memory')
    p.add_argument('--image-size', type=int, default=224)
    p.add_argument('--device', default='cpu')
    p.add_argument('--agreement', type=int, default=0, help='also measure the kNN edge agreement on the first N digits_cnn images (1797: all; default 0: off)')
    p.add_argument('--emulate-bf16', action='store_true', help='run bf16 on a CPU without native bf16 (emulated, slow: for the agreement)')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--one', help=argparse.SUPPRESS)  # internal: measure one case, print JSON
    p.add_argument('--variant', default='fp32', help=argparse.SUPPRESS)
    p.add_argument('--agree', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.one, a.n, a.batch_size, a.workers, a.source, a.image_size, a.device, a.threads, a.variant, a.emulate_bf16))); return 0
    if a.agree:
        print(json.dumps(agreement(a.n, a.agree, a.device, a.threads, a.emulate_bf16))); return 0
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    from gnn_image_classification.embeddings import check_precision
    gpu = str(a.device).startswith('cuda')
    variants = a.variants or (['fp32', 'channels_last', 'fp16', 'fp16_cl', 'bf16', 'bf16_cl'] if gpu else ['fp32', 'channels_last', 'bf16', 'bf16_cl'])
    if 'fp32' not in variants: variants = ['fp32', *variants]  # the peer of every ratio
    skipped = {}
    for v in variants:
        if VARIANTS[v][0] == 'bf16' and not gpu and a.emulate_bf16: continue
        try: check_precision(VARIANTS[v][0], a.device)
        except ValueError as e: skipped[v] = str(e)
    variants = [v for v in variants if v not in skipped]
    load0 = os.getloadavg()
    ref = matmul_gflops()
    cpu_cap = torch.backends.cpu.get_cpu_capability()
    print(f"reference: float32 1024² matmul {ref:.1f} GFLOP/s, {torch.get_num_threads()} threads, torch {torch.__version__}, CPU {cpu_cap}")
    for v, why in skipped.items(): print(f"skipped {v}: {why}")
    common = ['--n', str(a.n), '--batch-size', str(a.batch_size), '--workers', str(a.workers), '--source', a.source,
              '--image-size', str(a.image_size), '--device', a.device] + (['--threads', str(a.threads)] if a.threads else []) + (['--emulate-bf16'] if a.emulate_bf16 else [])
    rows = []
    for b in a.backbones:
        for v in variants:
            r = _child(['--one', b, '--variant', v, *common]); r['matmul_gflops'] = ref
            r['img_s_per_matmul_gflops'] = r['images_per_s'] / ref
            r['efficiency'] = None if r['model_gflops_per_s'] is None else r['model_gflops_per_s'] / ref
            rows.append(r)
            print(f"  measured {b} {v}: {r['images_per_s']:.2f} img/s", file=sys.stderr, flush=True)
    print(f"\n{'backbone':18} {'variant':14} {'img/s':>8} {'× fp32':>7} {'wall s':>7} {'CPU s':>7} {'img/CPU-s':>9} {'img/s per GFLOP/s':>18} {'model GFLOP/s':>13} {'peak RSS MB':>12}"
          f"   (N={a.n}, batch {a.batch_size}, workers {a.workers}, {a.source}, {a.image_size}px, {a.device}, {rows[0]['threads']} threads)")
    for r in rows:
        base = next(o for o in rows if o['backbone'] == r['backbone'] and o['variant'] == 'fp32')
        r['ratio_fp32'] = r['images_per_s'] / base['images_per_s']
        print(f"{r['backbone']:18} {r['variant'] + (' (emul.)' if r['emulated'] else ''):14} {r['images_per_s']:8.2f} {r['ratio_fp32']:7.2f} {r['seconds']:7.2f} {r['cpu_s']:7.2f} "
              f"{r['n'] / r['cpu_s']:9.2f} {r['img_s_per_matmul_gflops']:18.4f} {r['model_gflops_per_s'] or float('nan'):13.1f} {r['peak_rss_mb']:12.0f}   weights {r['weights'] or 'random'}")
    fp = [r for r in rows if r['variant'] == 'fp32']
    for r in fp:
        others = [f"{r['images_per_s'] / o['images_per_s']:.2f}× {o['backbone']}" for o in fp if o is not r]
        if others: print(f"{r['backbone']} fp32 images/s = " + ', '.join(others))
    agree = []
    if a.agreement:
        for v in variants:
            if v == 'fp32': continue
            agree.append(_child(['--agree', v, '--n', str(a.agreement), '--device', a.device] + (['--threads', str(a.threads)] if a.threads else [])
                                + (['--emulate-bf16'] if a.emulate_bf16 else [])))
        print(f"\nkNN graph agreement with float32 (digits_cnn, first {a.agreement} images, pretrained efficientnet_lite0, k=10, cosine, undirected edges)")
        print(f"{'variant':14} {'edges kept':>10} {'jaccard':>8} {'cos min':>8} {'cos median':>10} {'embed s':>8} {'CPU s':>7} {'peak RSS MB':>12}")
        for r in agree:
            print(f"{r['variant']:14} {100 * r['agreement']:9.2f}% {r['jaccard']:8.4f} {r['cos_min']:8.5f} {r['cos_median']:10.6f} {r['seconds']:8.1f} {r['cpu_s']:7.1f} {r['peak_rss_mb']:12.0f}"
                  f"   {'target ≥ 99%: met' if r['agreement'] >= 0.99 else 'target ≥ 99%: NOT met'}")
    load1 = os.getloadavg()
    print(f"load average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}"
          f" on {os.cpu_count()} CPUs")
    for r in rows: r['load_before'], r['load_after'] = load0, load1
    if a.json: Path(a.json).write_text(json.dumps(dict(throughput=rows, agreement=agree, skipped=skipped, cpu=cpu_cap), indent=1))
    return 0

if __name__ == '__main__': sys.exit(main())
