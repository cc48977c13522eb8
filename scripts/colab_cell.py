"""Insert (or refresh) the Colab badge and the one Colab set-up cell in every notebook, or `--check` that each has them.

The cell is the same everywhere and short: in Colab it clones the project, runs `scripts/colab.py` and works in the
clone's `nbs/`; elsewhere it does nothing. It sits right after the Colab badge (or the title)."""
import argparse, hashlib, json, sys
from pathlib import Path

REPO = 'https://github.com/gnn-image-classification/gnn_image_classification'
MARK = '# Colab set-up (scripts/colab_cell.py)'
def cell(sub:str) -> str:
    "The set-up cell of a notebook in `nbs/<sub>` (it works in its own folder, as locally)."
    return f'''#| hide
{MARK}: clone, install, work in nbs/; nothing outside Colab
import os, sys
if 'google.colab' in sys.modules:
    if not os.path.exists('/content/gnnic'): os.system('git clone -q --depth 1 {REPO} /content/gnnic && python /content/gnnic/scripts/colab.py')
    os.chdir('/content/gnnic/nbs{sub}')'''

def notebooks(root:Path): return sorted(p for p in root.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)

def badge(rel:str) -> str:
    "The 'Open in Colab' badge of the notebook at `nbs/<rel>`."
    return (f'[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]'
            f'({REPO.replace("https://github.com", "https://colab.research.google.com/github")}/blob/main/nbs/{rel})')

def is_badge(cell) -> bool: return cell['cell_type'] == 'markdown' and 'colab-badge' in ''.join(cell['source'])

def is_setup(cell) -> bool:
    src = ''.join(cell['source'])
    return cell['cell_type'] == 'code' and (MARK in src or ("'google.colab' in sys.modules" in src and '#| hide' in src))

def refresh(path:Path, root:Path, check:bool) -> bool:
    "Whether `path` was (or, with `check`, would be) changed."
    nb = json.loads(path.read_text()); cells = nb['cells']
    sub = path.parent.relative_to(root).as_posix(); CELL = cell('' if sub == '.' else '/' + sub)
    BADGE = badge(path.relative_to(root).as_posix())
    old = [i for i, c in enumerate(cells) if is_setup(c) or is_badge(c)]
    if [''.join(cells[i]['source']) for i in old] == [BADGE, CELL] and old[1] == old[0] + 1: return False
    if check: return True
    for i in reversed(old): del cells[i]
    at = next((i + 1 for i, c in enumerate(cells) if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('# ')), 0)
    cells[at:at] = [dict(cell_type='markdown', metadata={}, source=BADGE.splitlines(True)),
                    dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=CELL.splitlines(True))]
    for j, c in enumerate(cells):
        if 'id' not in c and 'id' in cells[0]: c['id'] = hashlib.sha1(f'{path.name}{j}'.encode()).hexdigest()[:8]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n'); return True

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='only report notebooks without the current cell; exit 1 if any')
    ap.add_argument('root', nargs='?', default=str(Path(__file__).resolve().parents[1] / 'nbs'))
    a = ap.parse_args()
    changed = [p for p in notebooks(Path(a.root)) if refresh(p, Path(a.root), a.check)]
    for p in changed: print(('missing or stale: ' if a.check else 'updated: ') + str(p))
    sys.exit(1 if a.check and changed else 0)
