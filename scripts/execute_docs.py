"""Run the tutorials and explanations and keep their outputs in the notebooks, so the pages read on GitHub show results.

API pages (nbs/NN_*.ipynb) stay without outputs: the docs build (scripts/docs_check.py, or nbdev-docs with Quarto)
executes every notebook before rendering it. Tutorials and explanations are read as they are committed, so they are
committed executed: this script runs each one from its own folder exactly as the notebook test does (cells flagged
`#| slow` are skipped), copies the outputs into the notebook, and writes it back cleaned (`nbdev-clean`).

Usage: python scripts/execute_docs.py [NOTEBOOK ...]   # default: nbs/tutorials/*.ipynb and nbs/explanations/*.ipynb
       python scripts/execute_docs.py --check          # exit 1 naming any tutorial or explanation without outputs
"""
import argparse, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root / 'scripts'))


def targets(only=()):
    "The notebooks whose outputs are committed: tutorials and explanations (or those named)."
    if only: return [Path(p).resolve() for p in only]
    return sorted([*(root / 'nbs' / 'tutorials').glob('*.ipynb'), *(root / 'nbs' / 'explanations').glob('*.ipynb')])


def n_outputs(path:Path) -> int:
    "How many code cells of the notebook at `path` keep an output."
    from fastcore.nbio import read_nb
    return sum(bool(c.get('outputs')) for c in read_nb(path).cells if c.cell_type == 'code')


def small_image(b64:str, width:int=800, most:int=60_000) -> tuple:
    "A figure made small for the committed notebook: ≤ `width` pixels wide, a 256-colour PNG, or a JPEG if that is smaller."
    import base64, io
    from PIL import Image
    im = Image.open(io.BytesIO(base64.b64decode(b64))).convert('RGB')
    if im.width > width: im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
    png, jpg = io.BytesIO(), io.BytesIO()
    im.quantize(256, method=Image.Quantize.MEDIANCUT).save(png, 'PNG', optimize=True)
    if png.tell() <= most: return 'image/png', base64.b64encode(png.getvalue()).decode()
    im.save(jpg, 'JPEG', quality=70, optimize=True)  # photographs: a palette PNG of them stays large
    best = min((png, 'image/png'), (jpg, 'image/jpeg'), key=lambda o: o[0].tell())
    return best[1], base64.b64encode(best[0].getvalue()).decode()


def _noise(o) -> bool:
    "An output that says nothing about the page: PyG's import-time deprecation warning from torch."
    return o.get('output_type') == 'stream' and 'torch.jit.script` is deprecated' in ''.join(o.get('text', ''))


def n_shown(path:Path) -> int:
    "How many code cells of the notebook at `path` the page shows (not `#| hide`): a page of prose has none."
    from fastcore.nbio import read_nb
    return sum(not c.source.lstrip().startswith('#| hide') for c in read_nb(path).cells if c.cell_type == 'code')


def run_one(path:Path, timeout:int=600):
    "Execute `path` as the notebook test does and write its outputs into it."
    from fastcore.nbio import read_nb, write_nb
    from docs_check import execute, _cfg
    flags = _cfg().get('tst_flags', '').split()
    ran, nb = execute(path, flags, timeout), read_nb(path)
    if len(ran.cells) != len(nb.cells): raise RuntimeError(f"{path}: the executed notebook has another number of cells")
    for c, r in zip(nb.cells, ran.cells):
        if c.cell_type != 'code': continue
        c['outputs'] = [o for o in r.get('outputs', []) if o.get('output_type') != 'error' and not _noise(o)]
        for o in c['outputs']:
            png = o.get('data', {}).pop('image/png', None)
            if png: o['data'].__setitem__(*small_image(''.join(png)))
        c['execution_count'] = None
        c.get('metadata', {}).pop('execution', None)
    write_nb(nb, path)
    subprocess.run([str(Path(sys.executable).parent / 'nbdev-clean'), '--fname', str(path)], check=True, cwd=root)
    return n_outputs(path)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='*')
    p.add_argument('--check', action='store_true')
    a = p.parse_args()
    if a.check:
        empty = [str(f.relative_to(root)) for f in targets(a.notebooks) if n_shown(f) and n_outputs(f) == 0]
        if empty: print('committed without outputs (run python scripts/execute_docs.py): ' + ', '.join(empty)); sys.exit(1)
        print(f'{len(targets(a.notebooks))} tutorials and explanations carry their outputs'); sys.exit(0)
    for f in targets(a.notebooks): print(f"{f.relative_to(root)}: {run_one(f)} code cells with outputs", flush=True)
