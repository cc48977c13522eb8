"""Offline docs check, and the notebook test: run every notebook, render it as the docs site will, check the pages.

nbdev builds the site in two steps: `nbdev-proc-nbs` runs nbdev's notebook processors (title from the H1, hidden and
export cells removed, `show_doc` output for every export) into `_proc/`, and Quarto renders `_proc/` to HTML in `_docs/`.
Quarto shows the outputs stored in a notebook, and our notebooks are committed without outputs, so each notebook is
first *executed*, exactly as `nbdev-test` runs it (from its own folder, cells flagged with `tst_flags` such as `#| slow`
skipped, the first error fails it), then processed with nbdev's own processors (`FilterDefaults`, what `nbdev-proc-nbs`
applies) into `_proc/`. (`nbdev-proc-nbs` itself cannot be used here: it first tries to install Quarto.)

* Without Quarto (these machines): each processed notebook is converted to HTML with nbconvert into `_docs/`, honouring
  the Quarto cell options nbdev writes (`echo`, `output`, `include`) and the title/summary frontmatter.
* With `quarto` on PATH: `nbdev-docs` renders the staged, executed `_proc/` with Quarto into `_docs/` (its own processing
  step keeps the staged notebooks, which are newer than their sources): the site, with every output in it.

Then each page is checked: an API page (a notebook with `#| default_exp`) has a `show_doc` section for each public
function and class it exports, and the analysis and tutorial pages have their figures (`<img>` tags, at least
`MIN_FIGURES`, and no fewer than the notebook drew), and every relative link in a page's markdown names a file that
exists. Each notebook runs in its own process, `--workers` at a time.
Prints a `PASS/FAIL notebook ...` line per notebook (its cells ran) and a `PASS/FAIL page ...` line per page (its checks),
and exits non-zero on any failure. This one execution is also the project's notebook test (scripts/test.sh): running
`nbdev-test` as well would execute every notebook a second time.

Usage: python scripts/docs_check.py [NOTEBOOK ...] [--workers N] [--no-quarto]
"""
import argparse, ast, html, json, os, re, shutil, subprocess, sys, time, traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

root = Path(__file__).resolve().parent.parent

# Pages that must show figures, with the least number each must show; every other page under tutorials/ needs one.
MIN_FIGURES = {'13_analysis.ipynb': 1, 'tutorials/01_quickstart.ipynb': 2,
               'tutorials/02_image_folder.ipynb': 1, 'tutorials/03_reproduce_reference.ipynb': 2}

def _cfg():
    from nbdev.config import get_config
    return get_config(root)

def notebooks(cfg, only=()):
    "The notebooks nbdev renders (nbs/, recursively, skipping `_`/`.` folders and files), relative to nbs/."
    from nbdev.doclinks import nbglob
    nbs = Path(cfg.nbs_path)
    files = sorted(Path(f).resolve().relative_to(nbs.resolve()) for f in nbglob(nbs, as_path=True))
    if only:
        want = {Path(o).name for o in only}
        files = [f for f in files if f.name in want or f.stem in want or str(f) in only]
    return files

# --- 1. execute, 2. process ---------------------------------------------------------------------------------------

def execute(src:Path, skip_flags, timeout):
    "Run notebook `src` from its folder (skipping flagged cells, like nbdev-test); the notebook with its outputs."
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.process import NBProcessor
    nb = NBProcessor(src, rm_directives=False, process=True).nb
    try: from nbdev.test import _skip_cell; skip = _skip_cell(nb, skip_flags)  # exactly nbdev-test's rule
    except ImportError:  # (a private helper: should it move, skip what nbdev-test documents it skips)
        skip = lambda c: c.cell_type != 'code' or bool(set(skip_flags) & set(c.directives_)) or c.directives_.get('eval', [''])[0] == 'false'
    os.environ['IN_TEST'] = '1'
    k = CaptureShell(src)
    with working_directory(src.parent):
        try: k.run_all(nb, exc_stop=True, preproc=skip, cell_timeout=timeout)
        except BaseException as e:
            raise RuntimeError(f"a cell raised while executing\n{k.prettytb(fname=src) or traceback.format_exc()}") from None
    os.environ.pop('IN_TEST', None)
    return nb

def process(staged:Path, src:Path):
    "nbdev's docs processors (what `nbdev-proc-nbs` applies) on the executed notebook at `staged`, in place."
    from fastcore.nbio import read_nb, write_nb
    from fastcore.xtras import working_directory
    from nbdev.processors import FilterDefaults
    nb = read_nb(staged)
    with working_directory(src.parent):
        try: FilterDefaults()(nb)
        except Exception as e:
            raise RuntimeError(f"runs, but nbdev's docs processing failed (nbdev-docs would fail the same way). It re-runs, in a fresh "
                               f"kernel, only the export, show_doc and import cells, and every cell that contains an import: keep "
                               f"imports in cells of their own, or make such cells runnable on their own.\n{e}") from None
    for c in nb.cells: c.get('metadata', {}).pop('execution', None)  # execnb's timings are floats, which nbformat forbids
    write_nb(nb, staged)
    return nb

# --- 3. offline HTML ------------------------------------------------------------------------------------------------

_re_opt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')

def _opts(src):
    opts, body = {}, []
    for line in src.splitlines():
        m = _re_opt.match(line)
        if m and not body: opts[m.group(1)] = m.group(2).strip('"\'').lower()
        else: body.append(line)
    return opts, '\n'.join(body)

def _quarto_md(s):
    "Markdown with the Quarto-only syntax nbdev emits removed: fenced divs and `{target=...}` attributes."
    s = re.sub(r'^:::.*$', '', s, flags=re.M)
    return re.sub(r'\]\(([^)]*)\)\{[^}]*\}', r'](\1)', s)

def to_html(nb_path:Path, out:Path):
    "Convert a processed notebook to a stand-alone HTML page, applying the Quarto cell options nbdev writes."
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    nb = nbformat.read(nb_path, as_version=4)
    cells, fm = [], {}
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.strip().startswith('---'):
            import yaml
            fm = yaml.safe_load(c.source.strip().strip('-')) or {}
            continue
        if c.cell_type == 'markdown':
            c.source = _quarto_md(c.source)
            if c.source.strip(): cells.append(c)
            continue
        if c.cell_type != 'code': continue
        opts, body = _opts(c.source)
        if opts.get('include') == 'false': continue
        c.source = body
        if opts.get('output') == 'false': c.outputs = []
        for o in c.get('outputs', []):
            if 'data' in o and 'text/markdown' in o['data']: o['data']['text/markdown'] = _quarto_md(o['data']['text/markdown'])
        if opts.get('echo') == 'false' or not body.strip():
            if not c.get('outputs'): continue
            c.metadata.setdefault('tags', []).append('remove_input')  # Quarto's `echo: false`: the output only
        cells.append(c)
    head = []
    if fm.get('title'): head.append(f"# {fm['title']}")
    if fm.get('description'): head.append(f"> {fm['description']}")
    if head: cells.insert(0, nbformat.v4.new_markdown_cell('\n\n'.join(head)))
    nb.cells = cells
    ex = HTMLExporter(template_name='lab', exclude_input_prompt=True, exclude_output_prompt=True)
    ex.register_preprocessor(TagRemovePreprocessor(remove_input_tags={'remove_input'}), enabled=True)
    body, _ = ex.from_notebook_node(nb, resources={'metadata': {'name': fm.get('title', nb_path.stem)}})
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(body)
    return fm

# --- one notebook, in a fresh process -------------------------------------------------------------------------------

def render_one(args):
    rel, skip_flags, timeout, quarto = args
    cfg = _cfg(); nbs = Path(cfg.nbs_path); t0 = time.perf_counter()
    src = nbs / rel; staged = root / '_proc' / rel
    res = dict(rel=str(rel), error=None, html=None, stderr=[], images=0)
    try:
        from fastcore.nbio import write_nb
        nb = execute(src, skip_flags, timeout)
        for c in nb.cells: c.metadata.pop('execution', None)  # execnb's timings are floats, which the notebook format forbids
        staged.parent.mkdir(parents=True, exist_ok=True)
        write_nb(nb, staged)
        for c in process(staged, src).cells:  # what the page will show: outputs of cells not hidden by a directive
            if c.cell_type != 'code' or not c.get('source'): continue
            opts, _ = _opts(c.source)
            if 'false' in (opts.get('include'), opts.get('output')): continue
            for o in c.get('outputs', []):
                if o.get('output_type') == 'stream' and o.get('name') == 'stderr':
                    res['stderr'].append(''.join(o.get('text', ''))[:160].strip())
                if 'image/png' in (o.get('data') or {}): res['images'] += 1
        staged.touch()  # newer than the source, so nbdev-docs' own processing step keeps this executed copy
        from nbdev.config import nbpath2html
        res['html'] = str(root / cfg.doc_path.name / rel.parent / nbpath2html(rel).name)
        if not quarto: to_html(staged, Path(res['html']))
    except BaseException as e:
        res['error'] = f"{type(e).__name__}: {e}" if not isinstance(e, RuntimeError) else str(e)
    res['seconds'] = time.perf_counter() - t0
    return res

def _render_in_subprocess(rel, skip_flags, timeout, quarto):
    "`render_one` in a fresh python process (so DataLoader workers may start, and no state leaks between notebooks)."
    import tempfile
    with tempfile.NamedTemporaryFile(suffix='.json') as f:
        cmd = [sys.executable, __file__, '--render-one', str(rel), '--result', f.name, '--timeout', str(timeout),
               '--skip', ' '.join(skip_flags)] + (['--quarto'] if quarto else [])
        r = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        try: return json.loads(Path(f.name).read_text())
        except ValueError:
            return dict(rel=str(rel), error=f"renderer crashed (exit {r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}",
                        html=None, stderr=[], images=0, seconds=0)

# --- 4. the counts ------------------------------------------------------------------------------------------------

def _doc_name(o):
    "The name `show_doc` gives a top-level def or class (`Class.name` for a fastcore `@patch`), or None if private."
    if not isinstance(o, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or o.name.startswith('_'): return None
    patched = any(getattr(d, 'id', None) == 'patch' or getattr(getattr(d, 'func', None), 'id', None) == 'patch' for d in o.decorator_list)
    if patched and o.args.args and isinstance(o.args.args[0].annotation, ast.Name): return f'{o.args.args[0].annotation.id}.{o.name}'
    return o.name

def public_exports(src:Path):
    "Public top-level functions and classes defined in the notebook's `#| export` cells (what needs a `show_doc`)."
    names = []
    for c in json.loads(src.read_text())['cells']:
        s = ''.join(c['source'])
        if c['cell_type'] != 'code' or not re.search(r'^\s*#\|\s*exports?\s*$', s, re.M): continue
        try: tree = ast.parse(s)
        except SyntaxError: continue
        names += [n for n in map(_doc_name, tree.body) if n]
    return names

def doc_sections(page:str):
    "Names of the show_doc sections on a rendered page (the h2–h4 headings show_doc writes, with their anchors)."
    heads = re.findall(r'<h([234])\b[^>]*>(.*?)</h\1>', page, flags=re.S)
    return {html.unescape(re.sub(r'<[^>]+>', '', t)).replace('¶', '').strip() for _, t in heads}

def broken_links(src:Path) -> list:
    "Relative links and images in a notebook's markdown cells that point at no file (resolved from its folder)."
    md = '\n'.join(''.join(c['source']) for c in json.loads(src.read_text())['cells'] if c['cell_type'] == 'markdown')
    md = re.sub(r'```.*?```|`[^`\n]*`', '', md, flags=re.S)  # code is not a link
    targets = re.findall(r'\]\((?!https?:|#|/|mailto:)([^)\s#]+)', md)
    return sorted({t for t in targets if not (src.parent / t).exists()})

def check_page(rel:Path, src:Path, html_path:Path, n_images_out:int):
    "Problems found on one rendered page (an empty list when it is good), and a short summary."
    page = html_path.read_text()
    probs, summary = [], []
    if 'Traceback (most recent call last)' in page: probs.append('a traceback on it')
    api = any(c['cell_type'] == 'code' and re.search(r'^\s*#\|\s*default_exp\s', ''.join(c['source']), re.M)
              for c in json.loads(src.read_text())['cells'])
    exports = public_exports(src) if api else []
    if exports:
        secs = doc_sections(page)
        missing = [n for n in exports if n not in secs]
        summary.append(f"{len(exports) - len(missing)}/{len(exports)} show_doc sections")
        if missing: probs.append(f"no show_doc section for {', '.join(missing)}")
    imgs = len([t for t in re.findall(r'<img\b[^>]*>', page) if 'colab-badge' not in t])  # figures, not the Colab badge
    need = MIN_FIGURES.get(str(rel), 1 if rel.parts[0] == 'tutorials' else 0)
    summary.append(f"{imgs} figure(s)" + (f" (need ≥ {need})" if need else ''))
    if imgs < need: probs.append(f"{imgs} figure(s), where at least {need} are expected")
    if imgs < n_images_out: probs.append(f"{imgs} figure(s), though the notebook made {n_images_out}")
    if bad := broken_links(src): probs.append(f"link(s) to no file: {', '.join(bad)}")
    return probs, ', '.join(summary)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='*', help='only these notebooks (names or paths relative to nbs/)')
    p.add_argument('--workers', type=int, default=int(os.environ.get('NBDEV_WORKERS', 2)))
    p.add_argument('--no-quarto', action='store_true', help='use the offline nbconvert renderer even if quarto is on PATH')
    for o in ('--render-one', '--result', '--timeout', '--skip'): p.add_argument(o, help=argparse.SUPPRESS)  # internal: one notebook
    p.add_argument('--quarto', action='store_true', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.render_one:
        res = render_one((Path(a.render_one), a.skip.split(), int(a.timeout), a.quarto))
        Path(a.result).write_text(json.dumps(res)); return 0
    os.environ.setdefault('MPLBACKEND', 'Agg')
    os.environ.setdefault('PYTHONWARNINGS', 'ignore::FutureWarning')  # as scripts/test.sh: PyG's import warns about torch.jit
    # one torch thread per worker: with more threads than free cores, torch's thread pool runs small models tens of times slower
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    cfg = _cfg(); nbs = Path(cfg.nbs_path)
    quarto = bool(shutil.which('quarto')) and not a.no_quarto
    files = notebooks(cfg, a.notebooks)
    if not files: print('FAIL docs: no notebooks found'); return 1
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags or [])
    (root / '_proc').mkdir(exist_ok=True)
    if not quarto and (nbs / 'images').exists(): shutil.copytree(nbs / 'images', root / cfg.doc_path.name / 'images', dirs_exist_ok=True)
    t0, failed, results = time.perf_counter(), 0, []

    def report(r):
        "Check one rendered page and print its PASS/FAIL line; True when it is good."
        rel = Path(r['rel']); name = f"notebook {r['rel']}"
        if r['error']: print(f"FAIL {name}: {r['error']}", flush=True); return False
        print(f"PASS {name}: every cell ran ({r['seconds']:.0f} s)", flush=True)
        if not Path(r['html']).exists(): print(f"FAIL page {r['rel']}: no page at {r['html']}", flush=True); return False
        probs, summary = check_page(rel, nbs / rel, Path(r['html']), r['images'])
        page = Path(r['html']).relative_to(root)
        for s in r['stderr']: print(f"     note: {r['rel']} shows output written to stderr: {s.splitlines()[0] if s else ''}")
        if probs: print(f"FAIL page {r['rel']}: {page} has {'; '.join(probs)}", flush=True); return False
        print(f"PASS page {r['rel']}: {page}: {summary}", flush=True); return True

    timeout = int(cfg.get('cell_timeout', 600))
    times_p = root / '_proc' / '.docs_check_times.json'  # last run's seconds per notebook: start the slowest first
    try: last = json.loads(times_p.read_text())
    except (OSError, ValueError): last = {}
    files.sort(key=lambda f: -last.get(str(f), 1e9))
    with ThreadPoolExecutor(max(1, a.workers)) as ex:
        futs = [ex.submit(_render_in_subprocess, f, skip, timeout, quarto) for f in files]
        for fut in as_completed(futs):  # offline, each page is checked as soon as it is rendered
            r = fut.result(); results.append(r)
            if not quarto or r['error']: failed += not report(r)
    times_p.write_text(json.dumps({**last, **{r['rel']: round(r['seconds'], 1) for r in results}}))
    (root / '_proc').touch()
    if quarto:
        print('quarto found: rendering the executed notebooks in _proc/ with nbdev-docs', flush=True)
        q = subprocess.run([str(Path(sys.executable).parent / 'nbdev-docs')], cwd=root)
        if q.returncode: print(f'FAIL docs: nbdev-docs exited with status {q.returncode}'); return 1
        failed += sum(not report(r) for r in sorted(results, key=lambda r: r['rel']) if not r['error'])
    print(f"docs: {len(results) - failed}/{len(results)} pages good in {time.perf_counter() - t0:.0f} s"
          f" ({'Quarto' if quarto else 'offline nbconvert'} render into {cfg.doc_path.name}/)")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())
