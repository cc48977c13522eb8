"""CPU seconds of one *tuned* run of every method, before → after: `fit_method(name, data, split, labelled, seed, 'budget',
GRIDS[name], 'cpu', n_classes)` (the label-budget protocol: each method's grid searched by cross-validation on the labelled
nodes only, then the test labels read once) on `digits_cnn` (1,797 rendered digits, pretrained EfficientNet-Lite0 embeddings,
10 classes), for every method at label rates 5% and 10%, seed 0.

The peer is the code before ("before"): `--before REV` (default 07d721c, the last commit before the refactor) checked out with
`git worktree add --detach` into a temporary folder, removed at the end (`git worktree remove --force`, `git worktree prune`).
"after" is the working tree at `--after PATH` (default: this checkout). Both run in one invocation, one case at a time, the
before and after of a case adjacent, so that load and drift hit both alike.

Each case (tree, method, rate, seed) runs in a fresh process of this script (`--child JSON`) with PYTHONPATH set to the tree's
root (the child checks that `gnn_image_classification` is imported from it; `-v` prints where from), OMP_WAIT_POLICY=PASSIVE and
`torch.set_num_threads(--threads)`. Before the clock: the embeddings (the on-disk cache, shared by both trees), the split
(`split_indices` with `FRACS`), the labelled nodes (`subsample_labels`) and, for graph methods, the 10-NN cosine graph. The clock
(wall, process CPU) covers `fit_method` only; peak RSS is the process's (getrusage), data and graph included. Per case also: test
accuracy, the selection score (mean CV accuracy), the best epoch, the configurations searched, the load average before and after.
A case that fails or passes `--timeout` is reported with its error's last line.

`--default-experiment` also times the main job on each tree: `gnnic` with no arguments (the default preset on digits, 2 worker
processes), as `--out <temporary folder> --no-progress`, wall and CPU seconds of the whole process tree (getrusage of the reaped
children, so its workers count).

    python bench/train_tuned.py                                   # 11 methods × 2 rates × seed 0 × 2 trees (about an hour, idle 2 cores)
    python bench/train_tuned.py --methods labelprop knn --rates 0.05 --threads 1   # a quick check (about a minute)
    python bench/train_tuned.py --no-before --methods cs gat      # the working tree only
    python bench/train_tuned.py --before HEAD~3 --default-experiment --seeds 0 1 --json tuned.json

Target: every after-case ≤ 10 CPU-seconds. Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations
import argparse, csv, json, os, resource, signal, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ('gcn', 'sage', 'gin', 'gat', 'sgc', 'appnp', 'labelprop', 'cs', 'mlp', 'logreg', 'knn')
TARGET = 10.  # CPU-seconds per tuned run, after


def child(case):
    "One case in this process: check the package's tree, prepare the data, time `fit_method` (or run the CLI); a dict (or exit status)."
    import gnn_image_classification as pkg
    if not Path(pkg.__file__).resolve().is_relative_to(Path(case['tree']).resolve()):
        raise SystemExit(f"gnn_image_classification imported from {pkg.__file__}, not from {case['tree']}")
    if case.get('verbose'): print(f"gnn_image_classification from {pkg.__file__}", file=sys.stderr)
    if 'cli' in case:
        from gnn_image_classification.cli import main
        return main(['--out', case['cli'], '--no-progress'])
    import torch
    torch.set_num_threads(case['threads'])
    from gnn_image_classification.cache import load_digits_cnn_embeddings
    from gnn_image_classification.data import split_indices
    from gnn_image_classification.experiments import FRACS, subsample_labels
    from gnn_image_classification.graph import build_graph
    from gnn_image_classification import methods
    name, rate, seed = case['method'], case['rate'], case['seed']
    es = load_digits_cnn_embeddings(progress=False)
    split = split_indices(es.y, FRACS, seed=seed, classes=es.classes, where=es.source)
    lab = subsample_labels(es.y, split['train'], rate, seed)
    data = es
    if name in methods.GRAPH_METHODS: data = build_graph(es.x, 'cosine', 'knn', 10); data.y = torch.as_tensor(es.y)
    t0, c0 = time.perf_counter(), time.process_time()
    r = methods.fit_method(name, data, split, lab, seed, 'budget', methods.GRIDS[name], 'cpu', es.n_classes)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dict(wall=wall, cpu=cpu, peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, test_acc=r.test_acc,
                val_acc=r.val_acc, best_epoch=r.best_epoch, configs=len(r.scores), labelled=len(lab), threads=torch.get_num_threads(),
                package=pkg.__file__)


def run(case, tree, timeout):
    "Run `child(case)` in a fresh process on `tree`'s package; a dict: its JSON line or its error, wall and CPU s of its process tree, load."
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tree), os.environ.get('PYTHONPATH')])), OMP_WAIT_POLICY='PASSIVE')
    l0, ru, t0 = os.getloadavg()[0], resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    p = subprocess.Popen([sys.executable, __file__, '--child', json.dumps(dict(case, tree=str(tree)))], cwd=tree, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # its own group: a timeout ends its workers too
    try: out, err = p.communicate(timeout=timeout)
    except BaseException as e:  # a timeout, or Ctrl-C (which the new session does not pass on)
        os.killpg(p.pid, signal.SIGKILL); out, err = p.communicate()
        if not isinstance(e, subprocess.TimeoutExpired): raise
        err += f"\ntimed out after {timeout} s"
    t1, ru1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    res = dict(tree_wall=t1 - t0, tree_cpu=ru1.ru_utime + ru1.ru_stime - ru.ru_utime - ru.ru_stime, load=(l0, os.getloadavg()[0]))
    if case.get('verbose'): print(*(f"  {l}" for l in err.splitlines() if l.startswith('gnn_image_classification from')), sep='\n', flush=True)
    if p.returncode: return dict(res, error=((err or out).strip().splitlines() or [f'exit status {p.returncode}'])[-1][:300])
    return dict(res, **json.loads(out.strip().splitlines()[-1])) if 'cli' not in case else res


def git(*args, cwd=ROOT):
    "Output of a git command, stripped (its error message as SystemExit if it fails)."
    p = subprocess.run(['git', *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode: raise SystemExit(f"git {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()


def cases(a, trees):
    "Measure every (method, rate, seed) on every tree, before and after adjacent; the result rows."
    rows = []
    for m in a.methods:
        for rate in a.rates:
            for seed in a.seeds:
                for side, tree in trees.items():
                    r = dict(side=side, method=m, rate=rate, seed=seed,
                             **run(dict(method=m, rate=rate, seed=seed, threads=a.threads, verbose=a.verbose), tree, a.timeout))
                    rows.append(r)
                    what = (f"ERROR {r['error']}" if 'error' in r else f"{r['cpu']:7.2f} CPU-s {r['wall']:7.2f} s wall {r['peak_mib']:5.0f} MiB "
                            f"test {r['test_acc']:.4f} cv {r['val_acc']:.4f} epoch {r['best_epoch']} ({r['configs']} configs)")
                    print(f"  {side:<6} {m:<9} {rate:<5g} seed {seed}: {what}  load {r['load'][0]:.2f}→{r['load'][1]:.2f}", flush=True)
    return rows


def default_experiment(a, trees, tmp):
    "Time `gnnic --out <tmp>/<side> --no-progress` on every tree; the result rows."
    rows = []
    for side, tree in trees.items():
        out = Path(tmp) / f'default-{side}'
        r = dict(side=side, **run(dict(cli=str(out), verbose=a.verbose), tree, a.timeout))
        if 'error' not in r: r['runs'] = sum(1 for _ in csv.DictReader(open(out / 'results.csv')))
        rows.append(r)
    print(f"\n`gnnic` (the default experiment: `--out TMP --no-progress`), whole process tree\n| tree | runs | wall s | CPU s | load before→after |\n|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['side']} | " + (f"ERROR {r['error']} | | |" if 'error' in r else f"{r['runs']} | {r['tree_wall']:.1f} | {r['tree_cpu']:.1f} |")
              + f" {r['load'][0]:.2f}→{r['load'][1]:.2f} |")
    return rows


def table(rows, several_seeds):
    "Print the markdown table (one row per case) and the summary line against the target."
    def cell(r, key, spec): return '—' if r is None else 'failed' if 'error' in r else format(r[key], spec)
    print('\n| method | rate | CPU s before | CPU s after | ratio (before/after) | wall s before → after | peak RSS after, MiB | test acc before → after | configs |')
    print('|---|---|---:|---:|---:|---:|---:|---|---:|')
    after = []
    for k in dict.fromkeys((r['method'], r['rate'], r['seed']) for r in rows):
        b, f = (next((r for r in rows if (r['method'], r['rate'], r['seed']) == k and r['side'] == s), None) for s in ('before', 'after'))
        ok = [r for r in (b, f) if r is not None and 'error' not in r]
        ratio = f"{b['cpu'] / f['cpu']:.2f}" if len(ok) == 2 else ''
        print(f"| {k[0]} | {k[1]:g}{f' s{k[2]}' if several_seeds else ''} | {cell(b, 'cpu', '.2f')} | {cell(f, 'cpu', '.2f')} | {ratio} | "
              f"{cell(b, 'wall', '.2f')} → {cell(f, 'wall', '.2f')} | {cell(f, 'peak_mib', '.0f')} | {cell(b, 'test_acc', '.4f')} → {cell(f, 'test_acc', '.4f')} | "
              f"{' → '.join(dict.fromkeys(str(r['configs']) for r in ok))} |")
        if f is not None: after.append(f)
    for r in (r for r in rows if 'error' in r): print(f"failed: {r['side']} {r['method']} {r['rate']:g} seed {r['seed']}: {r['error']}")
    done = [r for r in after if 'error' not in r]
    top = max(done, key=lambda r: r['cpu'], default=None)
    print(f"\nafter-cases ≤ {TARGET:g} CPU-s (the target): {sum(r['cpu'] <= TARGET for r in done)} of {len(after)}"
          + (f"; largest after: {top['cpu']:.2f} CPU-s ({top['method']} at rate {top['rate']:g}, seed {top['seed']})" if top else ''))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--methods', nargs='+', default=list(METHODS))
    ap.add_argument('--rates', nargs='+', type=float, default=[0.05, 0.1], help='label rates (default: 0.05 0.1)')
    ap.add_argument('--seeds', nargs='+', type=int, default=[0], help='seeds (default: 0)')
    ap.add_argument('--threads', type=int, default=2, help='torch threads per case (default 2: the 2-core target)')
    ap.add_argument('--before', default='07d721c', metavar='REV', help='revision of the peer, checked out in a temporary worktree (default: 07d721c)')
    ap.add_argument('--no-before', action='store_true', help='run the after side only')
    ap.add_argument('--after', default=str(ROOT), metavar='PATH', help='tree measured as after (default: this checkout, uncommitted changes included)')
    ap.add_argument('--default-experiment', action='store_true', help='also time `gnnic` (the default experiment) on each tree')
    ap.add_argument('--timeout', type=float, default=1800, help='seconds per case (default: 1800)')
    ap.add_argument('--json', help='write every result here')
    ap.add_argument('-v', '--verbose', action='store_true', help="print where each case's package was imported from")
    ap.add_argument('--child', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        r = child(json.loads(a.child))
        if isinstance(r, dict): print(json.dumps(r)); return 0
        return r
    tmp = tempfile.mkdtemp(prefix='tuned_bench'); before = Path(tmp) / 'before'
    after = Path(a.after).resolve()
    dirty = len(git('status', '--porcelain', '--untracked-files=no', cwd=after).splitlines())
    print(f"after: {after} (HEAD {git('rev-parse', '--short', 'HEAD', cwd=after)}, {dirty} paths with uncommitted changes)")
    try:
        trees = {}
        if not a.no_before:
            git('worktree', 'add', '--detach', str(before), a.before); trees['before'] = before
            print(f"peer (before): {a.before} = {git('log', '-1', '--format=%h %s', a.before)[:120]}, a worktree at {before}")
        trees['after'] = after
        load0 = os.getloadavg()
        print(f"cores: {os.cpu_count()}  load average at start: {load0}  threads per case: {a.threads}", flush=True)
        rows = cases(a, trees)
        threads = next((r['threads'] for r in rows if 'threads' in r), None)
        print(f"\ndigits_cnn, protocol budget, tuned (GRIDS[method]), 10-NN cosine graph; torch.get_num_threads() in a child: {threads}")
        table(rows, len(a.seeds) > 1)
        cli = default_experiment(a, trees, tmp) if a.default_experiment else []
        load1 = os.getloadavg()
        print(f"load average (1, 5, 15 min): start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
        if a.json: Path(a.json).write_text(json.dumps(dict(before=None if a.no_before else a.before, after=str(after), threads=a.threads,
                                                           load=(load0, load1), cases=rows, default_experiment=cli), indent=1, default=str))
    finally:
        if before.exists(): subprocess.run(['git', 'worktree', 'remove', '--force', str(before)], cwd=ROOT)
        subprocess.run(['git', 'worktree', 'prune'], cwd=ROOT)
        subprocess.run(['rm', '-rf', tmp])
    return 0


if __name__ == '__main__': sys.exit(main())
