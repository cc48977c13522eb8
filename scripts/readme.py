"""Write README.md from nbs/index.ipynb (what `nbdev-readme` does with Quarto, which these machines lack).

Usage: python scripts/readme.py [--check]   (--check: exit 1 if README.md is out of date)
"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def render(nb_path=root / 'nbs' / 'index.ipynb'):
    cells = json.loads(Path(nb_path).read_text())['cells']
    out = []
    for c in cells:
        src = ''.join(c['source']).rstrip()
        if c['cell_type'] == 'markdown':
            # the "> summary" line after the H1 stays a blockquote, as nbdev renders it; relative links and images
            # point into nbs/ (where index.ipynb lives), so they work from the repository root too
            out.append(re.sub(r'\]\((?!https?:|#|/|mailto:)([^)\s]+)\)', r'](nbs/\1)', src))
        elif c['cell_type'] == 'code':
            if re.search(r'^#\|\s*(hide|export|default_exp)', src, re.M) or not src: continue
            out.append(f"```python\n{src}\n```")
    head = "<!-- WARNING: generated from nbs/index.ipynb by scripts/readme.py; edit the notebook, not this file -->\n\n"
    return head + '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    txt, readme = render(), root / 'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text() == txt
        if not ok: print('README.md is out of date with nbs/index.ipynb: run python scripts/readme.py')
        sys.exit(0 if ok else 1)
    readme.write_text(txt); print(f'wrote {readme}')
