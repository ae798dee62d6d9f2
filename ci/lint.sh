#!/usr/bin/env bash
# Formatting and lints, as the workspace defines them (rustfmt.toml and
# [workspace.lints]). Warnings are errors.
set -euo pipefail
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# The module graph (no import circle, no upward import) and the code map.
python3 ci/module_graph.py
python3 ci/code_map.py --check
