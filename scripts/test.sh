#!/usr/bin/env bash
# The project's one test command (see README): checks that the package matches the notebooks and the README
# matches nbs/index.ipynb, then runs every notebook once as a test file and renders it as a docs page (scripts/docs_check.py).
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
if "$BIN/python" scripts/execute_docs.py --check; then ok "outputs: tutorials and explanations are committed with their outputs"
else bad "outputs (run python scripts/execute_docs.py)"; fi
if "$BIN/python" scripts/colab_cell.py --check; then ok "colab: every notebook has the one set-up cell of scripts/colab_cell.py"; else bad "colab (run python scripts/colab_cell.py)"; fi

# 3. every notebook (tutorials/ and explanations/ too) run as a test file, once: scripts/docs_check.py executes each exactly as
#    nbdev-test does (nbdev's own skip rule for `tst_flags` such as `#| slow`, from the notebook's folder, the first error
#    fails it), keeps the outputs, processes them with nbdev's docs processors, renders the page to HTML in _docs/ (Quarto
#    is not installable here; where `quarto` is on PATH it runs nbdev-docs) and checks it: a show_doc section per public
#    export, the figures. Two lines per notebook: "notebook X" (its cells ran) and "page X" (its page is complete).
f0=$failed; seen=" "
while IFS= read -r line; do
  case "$line" in "PASS "*) ok "${line#PASS }";; "FAIL "*) bad "${line#FAIL }";; "__rc="*) drc=${line#__rc=};; *) echo "$line";; esac
  case "$line" in "PASS notebook "*|"FAIL notebook "*) n=${line#* notebook }; seen+="${n%%:*} ";; esac
done < <("$BIN/python" scripts/docs_check.py --workers "${NBDEV_WORKERS:-2}" 2>&1; echo "__rc=$?")
[ "${drc:-1}" -ne 0 ] && [ "$failed" -eq "$f0" ] && bad "docs: scripts/docs_check.py exited with status ${drc:-unknown}"
# a notebook the checker never reported is a failure, not a silent pass
for nb in $(cd nbs && find . -name '*.ipynb' -not -path '*/.*' -not -name '_*' | sed 's#^\./##' | sort); do
  case "$seen" in *" $nb "*) ;; *) bad "notebook $nb: never run";; esac
done

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
