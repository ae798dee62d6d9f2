#!/usr/bin/env bash
# Makes sure a fresh machine has what the build needs. Today that is only the
# Rust toolchain with rustfmt and clippy, which the machine image ships and
# which cannot be fetched here, so this checks and reports rather than
# installs; and python3 with venv, which the served tests use (ci/served.sh
# installs stripe and toxiproxy-python into .venv-ci with pip).
set -euo pipefail

missing=()
for tool in cargo rustc rustfmt cargo-clippy python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci/setup.sh: missing from this machine: ${missing[*]}" >&2
  echo "ci/setup.sh: install the Rust toolchain with the rustfmt and clippy components" >&2
  exit 1
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y python3-venv
  else
    echo "ci/setup.sh: python3 has no venv/ensurepip and apt-get is unavailable" >&2
    exit 1
  fi
fi
cargo --version
rustc --version
python3 --version
