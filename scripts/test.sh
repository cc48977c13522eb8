#!/usr/bin/env bash
# The project's one test command (see README): checks that the package matches the notebooks and the README
# matches nbs/index.ipynb, runs every notebook as a test file with nbdev-test, then renders each as a docs page (scripts/docs_check.py).
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

# 2. README generated from index.ipynb, whose findings are generated from the committed results files
if "$BIN/python" scripts/findings.py --check; then ok "findings: nbs/index.ipynb matches nbs/results/*.csv"; else bad "findings"; fi
if "$BIN/python" scripts/readme.py --check; then ok "readme: README.md matches nbs/index.ipynb"; else bad "readme"; fi
if "$BIN/python" scripts/colab_cell.py --check; then ok "colab: every notebook has the one set-up cell of scripts/colab_cell.py"; else bad "colab (run python scripts/colab_cell.py)"; fi

# 3. every notebook (tutorials/ too) run as a test file by nbdev-test (2 workers); nbdev-test names the failing notebooks
nbs=$(cd nbs && find . -name '*.ipynb' -not -path '*/.*' -not -name '_*' | sed 's#^\./##' | sort)
log=$(mktemp)
"$BIN/nbdev-test" --n-workers "${NBDEV_WORKERS:-2}" --timing 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
for nb in $nbs; do
  if grep -q "^[[:space:]]*\(.*/\)\?$(basename "$nb")\$" "$log" || { [ "$rc" -ne 0 ] && ! grep -q "Tests Failed On The Following Notebooks" "$log"; }; then bad "notebook $nb"
  else ok "notebook $nb"; fi
done
rm -f "$log"

# 4. offline docs check (Quarto is not installable here): each notebook run again, processed with nbdev's docs processors,
#    rendered to HTML in _docs/, its page checked for a show_doc section per public export and for its figures
#    (scripts/docs_check.py, 2 workers; where `quarto` is on PATH it runs nbdev-docs instead). One line per page.
f0=$failed
while IFS= read -r line; do
  case "$line" in "PASS "*) ok "docs ${line#PASS }";; "FAIL "*) bad "docs ${line#FAIL }";; "__rc="*) drc=${line#__rc=};; *) echo "$line";; esac
done < <("$BIN/python" scripts/docs_check.py --workers "${NBDEV_WORKERS:-2}" 2>&1; echo "__rc=$?")
[ "${drc:-1}" -ne 0 ] && [ "$failed" -eq "$f0" ] && bad "docs: scripts/docs_check.py exited with status ${drc:-unknown}"

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
