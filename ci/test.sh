#!/usr/bin/env bash
# The README's test command, exactly as a developer types it, then the
# README's main-job command, so the Quick start can never rot; then a bounded
# exploration of the reference, which must find nothing; then every defect
# profile must be caught: by its tagged scenario (exit status 1, not a crash
# or a usage error), by a busy simulated day, and by exploration, whose
# written scenario must fail with the defect and pass without it. After the
# tests, every fuzz target for 3 s (docs/fuzzing.md; about 40 s).
set -euo pipefail
# Each part says when it starts, so a slow CI run shows where its time went.
ci_start=$(date +%s)
part() { echo "ci: --- $1 (at $(($(date +%s) - ci_start)) s of the tests)"; }
part "cargo test --workspace"
cargo test --workspace
# The lab bench's real-time tests (ci/lab.sh: about 2 minutes, mostly
# waiting on the bench's clock) run in the background while the next parts
# build; their log is shown, and their status judged, before "served".
lab_test=$(cargo test --workspace --test lab_bench --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "lab_bench":
        print(m["executable"])')
mkdir -p target
bash ci/lab.sh "$lab_test" > target/ci-lab.log 2>&1 &
lab_pid=$!
part "fuzz"
bash ci/fuzz.sh 3
part "release build and the bundled scenarios"
cargo run --release -p readerlab -- run --junit target/readerlab-junit.xml
readerlab=target/release/readerlab
"$readerlab" sim --hours 24 --payments 1000 --seed 7
# The figures a CI job tracks between builds (docs/benchmarks.md), kept as
# an artifact; one run each.
part "bench all"
mkdir -p target/ci-artifacts
"$readerlab" bench all --runs 1 --out target/ci-artifacts/bench.json
part "explore"
explored=target/ci-explore
rm -rf "$explored" && mkdir -p "$explored"
"$readerlab" explore --cases 5000 --seed 1 --out "$explored/reference"
# Sharded exploration as shipped: the GitHub Actions matrix and the
# Kubernetes Indexed Job (ci/github, ci/k8s), their own commands run here
# shard by shard and merged, must equal one unsharded run.
[ -x .venv-ci/bin/python ] || python3 -m venv .venv-ci
.venv-ci/bin/python -c 'import yaml' 2>/dev/null || .venv-ci/bin/pip install --quiet pyyaml==6.0.3
.venv-ci/bin/python ci/check_shard_manifests.py "$readerlab" target/ci-shards
part "defect profiles"
for defect in $("$readerlab" defects | tail -n +2 | awk '{print $1}'); do
  status=0
  "$readerlab" run --tags "@defect:$defect" --defect "$defect" > /dev/null 2>&1 || status=$?
  if [ "$status" -ne 1 ]; then
    echo "ci: run --defect $defect exited $status, expected 1 (its scenario fails)" >&2
    exit 1
  fi
  status=0
  "$readerlab" sim --hours 24 --payments 1000 --seed 7 --defect "$defect" > /dev/null || status=$?
  if [ "$status" -ne 1 ]; then
    echo "ci: sim --defect $defect exited $status, expected 1 (an invariant broken)" >&2
    exit 1
  fi
  status=0
  "$readerlab" explore --defect "$defect" --cases 1000 --seed 1 --out "$explored/$defect" \
    --json > "$explored/$defect.json" || status=$?
  if [ "$status" -ne 1 ]; then
    echo "ci: explore --defect $defect exited $status, expected 1 (a counterexample)" >&2
    exit 1
  fi
  feature=$(ls "$explored/$defect"/*.feature)
  status=0
  "$readerlab" run "$feature" --defect "$defect" > /dev/null || status=$?
  if [ "$status" -ne 1 ]; then
    echo "ci: $feature with --defect $defect exited $status, expected 1" >&2
    exit 1
  fi
  "$readerlab" run "$feature" > /dev/null
  echo "ci: --defect $defect caught by its scenario, a busy day and exploration (exit 1)"
done
part "lab bench (started after cargo test)"
if ! wait "$lab_pid"; then
  cat target/ci-lab.log
  echo "ci: the lab bench tests failed (ci/lab.sh; log above)" >&2
  exit 1
fi
grep -E "^test |test result" target/ci-lab.log
# Serve mode with real clients (stripe-python, toxiproxy-python) and the
# served target.
part "served"
bash ci/served.sh
# The POS driver protocol with outside adapters: the Python (Odoo-like)
# adapter's tests, its verdicts against the reference POS's, and the
# conformance kit on it (valid, and invalid with each defect switch).
part "driver"
bash ci/driver.sh
# Replay (identical, first divergence, re-judged) and the timeline report in
# headless Chromium: a counterexample's violation, a run's index, the live
# view of a running serve.
part "report"
bash ci/report.sh
# Mobile readers on the real BlueZ D-Bus API (bluezoo's virtual adapters on a
# private bus): the bluer/btleplug end-to-end test, the BLE bench, and the
# offline-over-Bluetooth feature on the served target with --ble bluez.
part "ble"
bash ci/ble.sh
part "done"
