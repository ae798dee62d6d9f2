#!/usr/bin/env bash
# The README's test command, exactly as a developer types it, then the
# README's main-job command, so the Quick start can never rot; then every
# defect profile must be caught: by its tagged scenario (exit status 1, not a
# crash or a usage error) and by a busy simulated day.
set -euo pipefail
cargo test --workspace
cargo run --release -p readerlab -- run --junit target/readerlab-junit.xml
readerlab=target/release/readerlab
"$readerlab" sim --hours 24 --payments 1000 --seed 7
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
  echo "ci: --defect $defect caught by its scenario and by a busy day (exit 1)"
done
