#!/usr/bin/env bash
# The product as a customer installs it, end to end: build the sdist and the wheel (the wheel from
# the sdist), make a wheelhouse of it and every dependency (what an agent host without internet
# receives), install from that wheelhouse alone into a fresh venv, and from an empty folder outside
# the checkout run what customers run: demo, init of every starter followed by validate, test, sync
# and export of its copied samples, and the HelloID agent path (apply of an event, export).
# Usage: tools/check-installed.sh [PYTHON]   (default python3). Prints the figures it measured.
set -euo pipefail
py="${1:-python3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
say() { echo "check-installed: $*"; }

"$py" -m venv "$work/tools"
"$work/tools/bin/pip" install -q --disable-pip-version-check build
start=$(now)
"$work/tools/bin/python" -m build -q --outdir "$work/dist" "$repo" >/dev/null
say "built $(cd "$work/dist" && ls | tr "\n" " ")in $(took "$start")"
wheel="$(ls "$work"/dist/scmapper-*.whl)"
"$work/tools/bin/pip" wheel -q --disable-pip-version-check -w "$work/wheelhouse" "$wheel"
say "wheelhouse: $(ls "$work/wheelhouse" | wc -l) wheels, $(du -sh "$work/wheelhouse" | cut -f1); scmapper's wheel $(du -k "$wheel" | cut -f1) KiB"

start=$(now)
"$py" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check --no-index --find-links "$work/wheelhouse" scmapper
say "installed offline (--no-index) into a fresh venv in $(took "$start")"
sc="$work/venv/bin/scmapper"

mkdir "$work/customer"
cd "$work/customer"
"$sc" --version
start=$(now)
"$sc" demo > demo.txt || { cat demo.txt; exit 1; }
say "demo from the wheel: exit 0 in $(took "$start"); $(ls demo-out | wc -l) systems written"

for system in afas raet adp successfactors entra ad; do
  "$sc" init "$system" --from "$system" > /dev/null
  (
    cd "$system"
    if grep -q '\.\./' spendcloud.yaml; then echo "init $system: the mapping names ../"; exit 1; fi
    "$sc" validate spendcloud.yaml
    "$sc" test spendcloud.yaml > /dev/null
    "$sc" sync --mapping spendcloud.yaml --db spendcloud.db --source samples/*.json > /dev/null
    "$sc" export --mapping spendcloud.yaml --db spendcloud.db --out out > /dev/null
    test -s out/Users.csv
  )
  say "init --from $system, validate, test, sync, export: ok"
done

"$sc" init agent --from helloid > /dev/null
cd agent
"$sc" apply --mapping spendcloud.yaml --db spendcloud.db --action create samples/create-event.json > apply.json
grep -q '"success": true' apply.json
"$sc" export --mapping spendcloud.yaml --db spendcloud.db --out out > /dev/null
test -s out/Users.csv
say "the agent path (init --from helloid, apply, export): ok"
