#!/usr/bin/env bash
# The project's one test command (see README): checks that the package matches the notebooks and the README
# matches nbs/index.ipynb, then runs every notebook as a test file and renders it as a docs page (scripts/docs_check.py).
# Prints one line per check and notebook, then a closing line "N passed, M failed"; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
BIN="$VENV/bin"
passed=0; failed=0; failures=()
ok()   { echo "PASS $1"; passed=$((passed+1)); }
bad()  { echo "FAIL $1"; failed=$((failed+1)); failures+=("$1"); }
export MPLBACKEND=Agg PYTHONWARNINGS="ignore::FutureWarning"
# idle OpenMP threads sleep instead of spinning: with notebooks tested in parallel on 2 cores, spinning made torch up to 45x slower
export OMP_WAIT_POLICY=PASSIVE

# 1. exported package == notebooks (nbdev-export must not change any tracked or untracked file of the package)
before=$(git status --porcelain -- gnn_image_classification 2>/dev/null)
if "$BIN/nbdev-export" && [ "$(git status --porcelain -- gnn_image_classification 2>/dev/null)" == "$before" ] \
   && git diff --quiet -- gnn_image_classification; then ok "export: package matches notebooks"
else bad "export: nbdev-export changed gnn_image_classification/ (run nbdev-export and commit)"; git status --short -- gnn_image_classification; fi

# 2. README generated from index.ipynb
if "$BIN/python" scripts/readme.py --check; then ok "readme: README.md matches nbs/index.ipynb"; else bad "readme"; fi

# 3. every notebook (tutorials/ too) run as a test, as nbdev-test runs it (its folder as working directory, `#| slow` cells
#    skipped, any error fails), then processed with nbdev's docs processors and rendered to HTML in _docs/, its page checked
#    for a show_doc section per public export and for its figures: one line per notebook (scripts/docs_check.py, 2 workers).
#    Each notebook runs once, so this replaces a separate nbdev-test pass; `.venv/bin/nbdev-test` still runs them alone.
f0=$failed
while IFS= read -r line; do
  case "$line" in "PASS "*) ok "${line#PASS }";; "FAIL "*) bad "${line#FAIL }";; "__rc="*) drc=${line#__rc=};; *) echo "$line";; esac
done < <("$BIN/python" scripts/docs_check.py --workers "${NBDEV_WORKERS:-2}" 2>&1; echo "__rc=$?")
[ "${drc:-1}" -ne 0 ] && [ "$failed" -eq "$f0" ] && bad "notebooks: scripts/docs_check.py exited with status ${drc:-unknown}"

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
