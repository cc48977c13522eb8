"""Per-notebook shape statistics, for the before → after tables of issue 15.

For each notebook: code cells, `#| export` cells, mean and max lines per export cell (non-blank lines, directive lines
not counted), explicit `show_doc(...)` cells, and the number of public names (the `__all__` of the module its
`#| default_exp` names, read from the exported file without importing it).

Usage: python scripts/nb_stats.py [--root DIR] [NOTEBOOK ...]   (default: every numbered notebook in DIR/nbs; names or stems)
"""
import argparse, ast, json, re, sys
from pathlib import Path

_dir = re.compile(r'^\s*#\|')

def _cells(nb): return [c for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']

def _src(c): return ''.join(c['source'])

def _is(c, directive): return re.search(rf'^\s*#\|\s*{directive}\b', _src(c), re.M) is not None

def _lines(c): return sum(1 for l in _src(c).splitlines() if l.strip() and not _dir.match(l))

def public_names(root:Path, nb:Path):
    "Length of `__all__` in the module the notebook exports to (None for a page without `default_exp`)."
    m = next((re.search(r'^\s*#\|\s*default_exp\s+(\S+)', _src(c), re.M) for c in _cells(nb) if _is(c, 'default_exp')), None)
    if m is None: return None
    lib = next((p for p in root.iterdir() if p.is_dir() and (p / '__init__.py').exists() and (p / '_modidx.py').exists()), None)
    f = lib / (m.group(1).replace('.', '/') + '.py') if lib else None
    if f is None or not f.exists(): return None
    for node in ast.parse(f.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
            return len(ast.literal_eval(node.value))
    return 0

def stats(root:Path, nb:Path) -> dict:
    cs = _cells(nb); ex = [c for c in cs if _is(c, 'exports?')]; n = [_lines(c) for c in ex]
    return dict(notebook=str(nb.relative_to(root / 'nbs')), code=len(cs), export=len(ex),
                mean=round(sum(n) / len(n), 1) if n else 0, max=max(n, default=0),
                show_doc=sum(bool(re.search(r'^\s*show_doc\(', _src(c), re.M)) for c in cs), public=public_names(root, nb))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='*'); p.add_argument('--root', default=str(Path(__file__).resolve().parent.parent))
    a = p.parse_args(argv); root = Path(a.root).resolve()
    nbs = sorted(root.glob('nbs/[0-9]*.ipynb'))
    if a.notebooks: nbs = [f for f in nbs if f.name in a.notebooks or f.stem in a.notebooks or str(f.relative_to(root / 'nbs')) in a.notebooks]
    cols = ['notebook', 'code', 'export', 'mean', 'max', 'show_doc', 'public']
    print('| ' + ' | '.join(cols) + ' |'); print('|' + '---|' * len(cols))
    for nb in nbs: print('| ' + ' | '.join(str(v if v is not None else '—') for v in stats(root, nb).values()) + ' |')

if __name__ == '__main__': sys.exit(main())
