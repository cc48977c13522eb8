"""Regenerate every committed result in nbs/results/, then the README's findings and figures (scripts/findings.py).

One command, resumable: each results file is a gnnic results store keyed by run, so a rerun after an interruption
does only the runs that are missing. The design (issue 25, "A decisive answer"), fixed before any result was read:

  per dataset (digits, digits_cnn), every method of the `sweep_full` preset tuned under its protocol, cosine kNN-10:
  - budget, stratified draw, rates 1, 2, 5, 10 %: SEEDS_LOW seeds (>= 20: sized for a 3-point paired difference)
  - budget, rates 20, 50 %, and full (100 %): SEEDS_HIGH seeds, then SEEDS_MORE (up to 20 in all) at each rate whose
    primary comparison's paired 95% CI on those seeds is wider than +-1 point (issue 25: fewer than 20 seeds above
    10 % only where the CI is that narrow). The rule reads the CI's width, never its mean, and was fixed after the
    first five seeds showed spreads of about 2 points; the rule itself was the issue's, set before any result.
  - oracle, rates 1 .. 50 %: SEEDS_ORACLE seeds (cut to 5 first to hold the 6 CPU-hour budget, as issue 25 allows)
  - digits_cnn only: the labelled-set draw axis at 1, 2, 5 %: random and typiclust (the default selection
    strategy) beside stratified, SEEDS_LOW seeds, budget protocol
  plus the `default` preset (every training label, defaults untuned, 5 seeds) on both datasets.

Phases run in the order of `phases`: the primary comparison at the low rates first, then every other protocol and rate
(the cheap ones: `oracle` runs take 1-2 CPU-s each), the defaults, and last the draw axis, the longest phase, which runs
seed by seed so that an interrupted one holds every draw and rate on the same seeds. Cost: the digits_cnn budget
phase took 11,516 CPU-s of fitting (880 runs, GAT 39% of it); the whole design (4,655 runs) took 10.75 CPU-hours of
fitting, measured from the rows' cpu_seconds (fitting is 99% of the processes' CPU time): about 6 hours of wall time on
2 cores with two workers.

Usage: python scripts/regenerate.py [--workers 2] [--phases NAME ...] [--dry-run] [--no-findings]
"""
import argparse, os, sys, time, resource
from pathlib import Path
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # two processes compute at once on 2 cores
root = Path(__file__).resolve().parent.parent
RES = root / 'nbs' / 'results'
SEEDS_LOW, SEEDS_HIGH, SEEDS_MORE, SEEDS_ORACLE = range(20), range(5), range(5, 20), range(5)
LOW, HIGH = (0.01, 0.02, 0.05, 0.1), (0.2, 0.5, 1.0)


def phases():
    "(name, dataset, results file, make_grid settings), most important first."
    from gnn_image_classification.experiments import PRESETS
    sw = {k: v for k, v in PRESETS['sweep_full'].items() if k not in ('rates', 'seeds', 'protocols')}
    dflt = PRESETS['default']
    out = []
    cnn, dig = RES / 'digits_cnn.csv', RES / 'digits.csv'
    both = (('digits_cnn', cnn), ('digits', dig))
    out += [(f'{ds}:budget-low', ds, f, dict(sw, rates=LOW, seeds=SEEDS_LOW, protocols=('budget',))) for ds, f in both]
    out += [(f'{ds}:oracle', ds, f, dict(sw, rates=LOW + HIGH[:2], seeds=SEEDS_ORACLE, protocols=('oracle',)))
            for ds, f in both]
    high = dict(sw, seeds=SEEDS_HIGH, protocols=('budget',))
    out += [(f'{ds}:budget-high', ds, f, dict(high, rates=HIGH)) for ds, f in both]
    out += [(f'{ds}:budget-high-more', ds, f, lambda f=f: dict(high, rates=_wide(f), seeds=SEEDS_MORE))
            for ds, f in both]  # decided when the phase is reached: from the seeds run by then
    out += [(f'{ds}:default', ds, RES / f'{ds}_default.csv', dict(dflt)) for ds, _ in both]
    out.append(('digits_cnn:draws', 'digits_cnn', cnn,  # the longest phase, last: seed by seed, so a part is balanced
                dict(sw, rates=LOW[:3], seeds=SEEDS_LOW, protocols=('budget',), draws=('random', 'typiclust'))))
    return out


def _wide(path, max_half_width:float=.01) -> tuple:
    "Rates of HIGH whose primary comparison's 95% CI on the SEEDS_HIGH seeds is wider than +-1 point, or not yet known."
    from gnn_image_classification.comparisons import primary, primary_table
    from gnn_image_classification.experiments import read_results
    if not path.exists(): return HIGH
    prim = primary(read_results(path))
    t = primary_table(prim[prim.seed.isin(SEEDS_HIGH)])  # the first seeds only: the same decision whenever it is made
    if t.empty: return HIGH
    t = t[(t.draw == 'stratified') & t.protocol.isin(['budget', 'full']) & (t.n >= len(SEEDS_HIGH))]
    hw = t.set_index('rate').half_width
    return tuple(r for r in HIGH if not hw.get(r, float('nan')) <= max_half_width)


def config(cfg) -> dict:
    "A phase's make_grid settings (a phase that depends on earlier results decides them when called)."
    return cfg() if callable(cfg) else cfg


def _done(path) -> set:
    "What each finished run of a results file was: (method, protocol, rate, draw, seed, metric)."
    from gnn_image_classification.experiments import read_results
    if not path.exists(): return set()
    r = read_results(path)
    return set(zip(r.method, r.protocol, r.rate.round(6), r.draw, r.seed, r.metric.fillna('').astype(str)))


def todo() -> tuple:
    "(runs missing, runs in all) over every phase, read from the results files without loading any data."
    from gnn_image_classification.experiments import make_grid
    left = total = 0
    done = {}
    for _, _, path, cfg in phases():
        have = done.setdefault(path, _done(path))
        specs = make_grid(**config(cfg))
        left += sum((s.method, s.protocol, round(s.rate, 6), s.draw, s.seed, s.metric or '') not in have for s in specs)
        total += len(specs)
    return left, total


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--phases', nargs='+', help='run only these phases (default: all, in order)')
    p.add_argument('--dry-run', action='store_true', help='print each phase and how many runs it still needs')
    p.add_argument('--no-findings', action='store_true', help='do not run scripts/findings.py at the end')
    a = p.parse_args()
    from gnn_image_classification.cli import DATASETS
    from gnn_image_classification.experiments import make_grid, run_grid, data_digest, read_results
    todo = [ph for ph in phases() if not a.phases or ph[0] in a.phases]
    if a.phases and len(todo) != len(a.phases):
        sys.exit(f"unknown phase(s); valid: {', '.join(ph[0] for ph in phases())}")
    data, t0, c0 = {}, time.perf_counter(), time.process_time()
    for name, ds, path, cfg in todo:
        if ds not in data: data[ds] = DATASETS[ds]()
        es = data[ds]
        specs = make_grid(**config(cfg))
        if a.dry_run:
            done = set(read_results(path)['run_key']) if path.exists() else set()
            left = sum(s.key(data_digest(es)) not in done for s in specs)
            print(f'{name}: {len(specs)} runs, {left} to do -> {path.relative_to(root)}')
            continue
        print(f'{name}: {len(specs)} runs -> {path.relative_to(root)}', flush=True)
        run_grid(es, specs, path, workers=a.workers)
    if a.dry_run: return
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - c0 + kids.ru_utime + kids.ru_stime
    print(f'regenerated in {time.perf_counter() - t0:.0f} s wall, {cpu:.0f} s CPU (this process and its workers)')
    if not a.no_findings:
        import subprocess
        subprocess.run([sys.executable, str(root / 'scripts' / 'findings.py')], check=True)


if __name__ == '__main__': main()
