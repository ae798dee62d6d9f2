#!/usr/bin/env bash
# Runs every fuzz target (tests/fuzz.rs of the three crates) for SECONDS
# each, default 10, and prints per target the inputs it ran and the time it
# took. `cargo test` runs the same targets for a quarter of a second each;
# this is the longer run (docs/fuzzing.md), and CI runs it for 3 s each.
#
# Each test process may use at most FUZZ_MEMORY_MB of address space (default
# 4096): an input that makes a decoder allocate without bound fails the
# run ("memory allocation of N bytes failed") instead of swapping. Targets
# run FUZZ_THREADS at a time (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
threads=${FUZZ_THREADS:-2}
memory_mb=${FUZZ_MEMORY_MB:-4096}
log_dir=${CARGO_TARGET_DIR:-target}/fuzz-logs
mkdir -p "$log_dir"

# Build first, outside the memory limit (the compiler needs more). The three
# crates build together, with the features `cargo test --workspace` unifies,
# so that its test binaries are reused: built one package at a time (`-p`),
# dependencies were compiled again with other features (50 s of CI).
cargo test --workspace --test fuzz --locked --no-run

status=0
log="$log_dir/fuzz.log"
echo "fuzz: readerlab-core, readerlab-emulator, readerlab; ${seconds} s per target, $threads at a time" >&2
(
  ulimit -v $((memory_mb * 1024))
  READERLAB_FUZZ_SECONDS="$seconds" RUST_BACKTRACE=0 \
    cargo test --workspace --test fuzz --locked --no-fail-fast -- --nocapture --test-threads="$threads"
) > "$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (exit $status); the failing inputs:" >&2
  grep -A4 -E "panicked on the input|took .*twice|a hang; input|memory allocation" "$log" >&2 || tail -n 40 "$log" >&2
  echo "fuzz: whole log in $log" >&2
  status=1
fi

echo
printf '%-28s %12s %9s %12s\n' target inputs seconds "slowest ms"
# fuzz <name>: <n> inputs in <s> s (slowest <ms> ms, mean ...)
sed -n -E 's/^fuzz (fuzz_[a-z0-9_]+): ([0-9]+) inputs in ([0-9.]+) s \(slowest ([0-9.]+) ms.*/\1 \2 \3 \4/p' "$log" |
  sort | awk '{ printf "%-28s %12s %9s %12s\n", $1, $2, $3, $4; n += $2 } END { printf "%-28s %12s\n", "total", n }'
exit "$status"
