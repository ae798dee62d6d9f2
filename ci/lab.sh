#!/usr/bin/env bash
# Lab benches (docs/lab.md): `readerlab run --target lab` on a served bench,
# in real time, and the bench's labgrid place held around it, with labgrid's
# coordinator and client as published on PyPI: scenarios/tests/lab_bench.rs,
# a test target a plain `cargo test` leaves out (`test = false`: real time,
# minutes, and labgrid).
#
#   bash ci/lab.sh             builds and runs it with cargo
#   bash ci/lab.sh TEST_BINARY runs it already built (ci/test.sh does, in the
#                              background, while it builds)
set -euo pipefail
[ -x .venv-ci/bin/python ] || python3 -m venv .venv-ci
.venv-ci/bin/python -c 'import labgrid' 2>/dev/null \
  || .venv-ci/bin/pip install --quiet labgrid==26.0.1
export READERLAB_LABGRID_BIN="$PWD/.venv-ci/bin"
if [ $# -ge 1 ]; then
  "$1" --test-threads 3
else
  cargo test --workspace --test lab_bench -- --test-threads 3
fi
