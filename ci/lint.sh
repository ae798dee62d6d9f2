#!/usr/bin/env bash
# Formatting and lints, as the workspace defines them (rustfmt.toml and
# [workspace.lints]). Warnings are errors.
set -euo pipefail
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
