#!/usr/bin/env bash
# The POS driver protocol (docs/driver-protocol.md) with adapters nobody in
# the Rust crates wrote:
#  1. the Python adapter's own tests (adapters/python/tests, pytest), against
#     readerlab serve on loopback;
#  2. readerlab's own POS and the Python adapter give the same verdict on the
#     POS's promises (features/pos) on the served target, on stdio and over
#     the WebSocket transport (ci/ws_bridge.py plays the app connecting in;
#     app.kill is skipped there);
#  3. `readerlab conform` on the Python adapter: exit 0 (valid); with each
#     of its defect switches exit 1, naming the invariant it breaks;
#  4. `readerlab conform` on the skeleton adapter: exit 2 (unknown: it
#     declares no capability);
#  5. the reference POS behind the protocol (`readerlab adapter`: smart
#     readers over their LAN API, Bluetooth readers as a mobile SDK over
#     BLE-over-TCP): the whole bundled suite gives the in-process POS's
#     verdict for every scenario it runs, with no defect and with each
#     defect profile switched on in both (ci/compare_verdicts.py).
# Python packages live in .venv-ci. Expects target/release/readerlab.
set -euo pipefail
cd "$(dirname "$0")/.."

readerlab=target/release/readerlab
if ! .venv-ci/bin/python -c 'import stripe, pytest, websockets' 2>/dev/null; then
  python3 -m venv .venv-ci
  .venv-ci/bin/pip install --quiet -r adapters/python/requirements.txt websockets==17.4
fi
pos='.venv-ci/bin/python adapters/python/readerlab_odoo_adapter.py'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "--- the Python adapter's tests"
.venv-ci/bin/python -m pytest -q adapters/python/tests

echo "--- features/pos: the reference POS and the Python adapter, same verdicts"
verdicts() {
  python3 -c 'import json, sys
for r in json.load(sys.stdin)["results"]:
    print(r["path"], r["line"], r["outcome"])'
}
"$readerlab" run features/pos --target served --json | verdicts > "$work/reference.txt"
"$readerlab" run features/pos --target served --pos "$pos" --json | verdicts > "$work/adapter.txt"
if ! diff "$work/reference.txt" "$work/adapter.txt"; then
  echo "ci/driver.sh: the Python adapter's verdicts differ from the reference POS's (above)" >&2
  exit 1
fi
echo "ci: $(wc -l < "$work/reference.txt") scenarios, the same verdict through the protocol"

echo "--- features/pos with the Python adapter as an app that connects in over a WebSocket"
.venv-ci/bin/python ci/ws_bridge.py ws://127.0.0.1:18131 -- $pos 2> "$work/bridge.log" &
bridge=$!
"$readerlab" run features/pos --target served --pos-listen 127.0.0.1:18131 --json | verdicts > "$work/socket.txt"
wait "$bridge" || { cat "$work/bridge.log"; exit 1; }
# app.kill needs a process readerlab starts: skipped over a socket.
grep -v ' 44 ' "$work/reference.txt" > "$work/reference-no-kill.txt"
grep -v ' 44 ' "$work/socket.txt" > "$work/socket-no-kill.txt"
if ! diff "$work/reference-no-kill.txt" "$work/socket-no-kill.txt" || ! grep -q ' 44 skipped' "$work/socket.txt"; then
  cat "$work/socket.txt"
  echo "ci/driver.sh: over the WebSocket the Python adapter's verdicts differ (above)" >&2
  exit 1
fi
tail -1 "$work/bridge.log"

echo "--- the reference POS as an adapter (readerlab adapter): the bundled suite, same verdicts"
# Every scenario the adapter runs must get the in-process POS's verdict,
# with no defect and with each defect profile (on the rig, and in the
# adapter's SDK). The runs mostly wait on each other's processes, so two
# pairs (four runs) go side by side; each pair's comparison is printed in
# order once both are done.
pair() {
  local defect=$1 flags=()
  [ "$defect" = none ] || flags=(--defect "$defect")
  "$readerlab" run --target served "${flags[@]}" --json > "$work/reference-$defect.json" &
  local reference=$!
  "$readerlab" run --target served "${flags[@]}" --pos "$readerlab adapter ${flags[*]}" --json \
    > "$work/adapter-$defect.json" || true
  wait "$reference" || true
  python3 ci/compare_verdicts.py "$work/reference-$defect.json" "$work/adapter-$defect.json" \
    --label "defect $defect" --min-run 145 > "$work/compare-$defect.txt" 2>&1
}
set -- none $("$readerlab" defects | tail -n +2 | awk '{print $1}')
while [ $# -gt 0 ]; do
  first=$1; shift
  second=${1:-}; [ $# -gt 0 ] && shift
  pids=()
  pair "$first" & pids+=($!)
  [ -z "$second" ] || { pair "$second" & pids+=($!); }
  failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  for defect in $first $second; do cat "$work/compare-$defect.txt"; done
  [ "$failed" -eq 0 ] || { echo "ci/driver.sh: verdicts differ (above)" >&2; exit 1; }
done

echo "--- readerlab conform on the Python adapter: valid"
"$readerlab" conform --pos "$pos" --junit target/conform-python.xml

for defect in fresh-key-retry:I2 failed-on-lost-answer:I3; do
  name=${defect%%:*}
  invariant=${defect##*:}
  echo "--- readerlab conform on the Python adapter with READERLAB_ODOO_DEFECT=$name: invalid, $invariant"
  status=0
  "$readerlab" conform --pos "READERLAB_ODOO_DEFECT=$name $pos" features/pos > "$work/$name.txt" || status=$?
  if [ "$status" -ne 1 ] || ! grep -q "^ *$invariant ([a-z ]*) violated" "$work/$name.txt"; then
    cat "$work/$name.txt"
    echo "ci/driver.sh: conform with $name exited $status; expected 1 naming $invariant" >&2
    exit 1
  fi
  grep "violated" "$work/$name.txt" | sort -u
done

echo "--- readerlab conform on the skeleton adapter: unknown"
status=0
"$readerlab" conform --pos 'python3 adapters/skeleton/adapter.py' features/pos > "$work/skeleton.txt" || status=$?
cat "$work/skeleton.txt"
if [ "$status" -ne 2 ]; then
  echo "ci/driver.sh: conform on the skeleton exited $status, expected 2 (unknown)" >&2
  exit 1
fi
