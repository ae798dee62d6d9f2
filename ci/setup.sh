#!/usr/bin/env bash
# Makes sure a fresh machine has what the build needs. Today that is only the
# Rust toolchain with rustfmt and clippy, which the machine image ships and
# which cannot be fetched here, so this checks and reports rather than
# installs. System packages (apt-get) and Python packages (pip) will be
# installed here when a later part needs them (BlueZ mock, stripe-python).
set -euo pipefail

missing=()
for tool in cargo rustc rustfmt cargo-clippy; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci/setup.sh: missing from this machine: ${missing[*]}" >&2
  echo "ci/setup.sh: install the Rust toolchain with the rustfmt and clippy components" >&2
  exit 1
fi
cargo --version
rustc --version
