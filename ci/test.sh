#!/usr/bin/env bash
# The README's test command, exactly as a developer types it, then the
# README's main-job command, so the Quick start can never rot.
set -euo pipefail
cargo test --workspace
cargo run --release -p readerlab -- readers
