"""`gnnic fit`'s default (`auto`) on an image folder, against every single candidate, on images it never saw (issue
"Few labels, many images", Done-when: "reaches at least the held-out accuracy of the best single candidate minus 1 point").

No real photo folder is available offline, so the folder is tutorial 02's: scikit-learn's digits as 64-px PNGs (dark ink on
white, enlarged bicubically), embedded by pretrained EfficientNet-Lite0 (`cache.embed_source(image_folder(root),
EmbedConfig('efficientnet_lite0', 'DEFAULT'))`), all 1,797 written and embedded once. Per seed, each class's images are
shuffled; 60 per class form the training folder and the next 30 are held out. On the training folder each method is fitted
as `gnnic fit` fits it (`predict.fit_classifier`: a seeded 80/10/10 split, the `full` protocol, a cosine 10-NN graph), the
candidates tuned on their grids, GraphSAGE with its defaults (the previous `gnnic fit` default), and `auto`; then the saved
classifier's `predict_embeddings` (attach mode, as `gnnic predict` does) classifies the held-out images. Reported: each
method's held-out accuracy per seed and its mean, `auto`'s choice, and auto − best single candidate (by mean), paired by seed.

    python bench/auto_folder.py [--seeds 5] [--train 60] [--held 30]

Not a test: it reports, it does not assert. First run embeds 1,797 images (a few CPU-minutes), cached in /tmp afterwards.
"""
import os
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1'); os.environ.setdefault('OMP_NUM_THREADS', '1')
import argparse, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, torch
from PIL import Image
from sklearn.datasets import load_digits
from gnn_image_classification.sources import image_folder
from gnn_image_classification.cache import EmbedConfig, embed_source
from gnn_image_classification.methods import GRIDS, AUTO_CANDIDATES
from gnn_image_classification.predict import fit_classifier

WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')


def write_digits(root:Path) -> Path:
    "Every digit as a 64-px PNG in root/<word>/, as tutorial 02 draws them."
    d = load_digits()
    for c, word in enumerate(WORDS):
        (root / word).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(d.target == c):
            img = 255 - np.pad(d.images[i] / 16 * 255, 1).round().astype(np.uint8)
            Image.fromarray(img, 'L').resize((64, 64), Image.BICUBIC).save(root / word / f'digit_{i:04d}.png')
    return root


def run(es, cfg, seeds:int, n_train:int, n_held:int) -> pd.DataFrame:
    rows = []
    for s in range(seeds):
        rng = np.random.default_rng(s)
        perm = [rng.permutation(np.flatnonzero(es.y == c)) for c in range(es.n_classes)]
        train, held = (np.sort(np.concatenate([p[a:b] for p in perm])) for a, b in ((0, n_train), (n_train, n_train + n_held)))
        tr, he = es.subset(train), es.subset(held)
        for m in AUTO_CANDIDATES + ('sage', 'auto'):
            kw = dict(grid=GRIDS[m]) if m in AUTO_CANDIDATES else {}
            c0 = time.process_time(); clf, r = fit_classifier(tr, cfg, m, seed=s, device='cpu', **kw); cpu = time.process_time() - c0
            held_acc = float((clf.predict_embeddings(he.x)[0].argmax(1).numpy() == he.y).mean())
            rows.append(dict(seed=s, method=m, chosen=clf.method, held_out=held_acc, val=r.val_acc, test=r.test_acc, cpu=cpu))
            print(f"seed {s} {m:9s} -> {clf.method:9s} held-out {held_acc:.3f} (val {r.val_acc:.3f}, in-folder test {r.test_acc:.3f}) "
                  f"{cpu:5.1f} CPU-s", flush=True)
    return pd.DataFrame(rows)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, default=5); ap.add_argument('--train', type=int, default=60)
    ap.add_argument('--held', type=int, default=30); ap.add_argument('--work', default='/tmp/gnnic_auto_folder')
    a = ap.parse_args(); torch.set_num_threads(1); warnings.filterwarnings('ignore')
    work = Path(a.work); root = work / 'digits'
    if not root.exists(): write_digits(root)
    cfg = EmbedConfig('efficientnet_lite0', 'DEFAULT')
    es = embed_source(image_folder(root), cfg, cache=work / 'cache', progress=False)
    df = run(es, cfg, a.seeds, a.train, a.held)
    acc = df.pivot(index='seed', columns='method', values='held_out')
    best = acc[list(AUTO_CANDIDATES)].mean().idxmax(); diff = (acc['auto'] - acc[best]) * 100
    print('\nheld-out accuracy per seed:\n' + acc.round(3).to_string())
    print('\nmean:\n' + acc.mean().round(4).to_string())
    print(f"\nauto chose: {df[df.method == 'auto'].chosen.value_counts().to_dict()}; best single candidate by mean: {best}")
    print(f"auto − {best}: {diff.mean():+.2f} points (per seed {', '.join(f'{d:+.1f}' for d in diff)}); target ≥ −1")
    print(f"auto CPU-s per fit: mean {df[df.method == 'auto'].cpu.mean():.1f}, max {df[df.method == 'auto'].cpu.max():.1f}")
