#!/usr/bin/env bash
# Makes sure a fresh machine has what the build needs. Today that is only the
# Rust toolchain with rustfmt and clippy, which the machine image ships and
# which cannot be fetched here, so this checks and reports rather than
# installs; and python3 with venv, which the served tests use (ci/served.sh
# installs stripe and toxiproxy-python into .venv-ci with pip). For the BlueZ
# tests (ci/ble.sh) it installs libdbus and a D-Bus daemon with apt-get when
# they are missing, and bluezoo (a user-space BlueZ) into .venv-ble, patched
# by ci/patch_bluezoo.py. For the timeline report's browser tests
# (ci/report.sh) it installs Chromium and chromedriver from Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

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
ble_packages=()
command -v pkg-config >/dev/null 2>&1 || ble_packages+=(pkg-config)
{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists dbus-1; } || ble_packages+=(libdbus-1-dev)
command -v dbus-run-session >/dev/null 2>&1 || ble_packages+=(dbus-daemon)
command -v dbus-send >/dev/null 2>&1 || ble_packages+=(dbus-bin)
if [ ${#ble_packages[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y "${ble_packages[@]}" || { apt-get update && apt-get install -y "${ble_packages[@]}"; }
  else
    echo "ci/setup.sh: missing ${ble_packages[*]} (for ci/ble.sh) and apt-get is unavailable" >&2
    exit 1
  fi
fi
# Headless Chromium and its WebDriver for the timeline report's browser
# tests (ci/report.sh), from Debian's packages; no browser download.
browser_packages=()
command -v chromium >/dev/null 2>&1 || browser_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || browser_packages+=(chromium-driver)
[ -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || browser_packages+=(fonts-liberation)
if [ ${#browser_packages[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends "${browser_packages[@]}" \
      || { apt-get update && apt-get install -y --no-install-recommends "${browser_packages[@]}"; }
  else
    echo "ci/setup.sh: missing ${browser_packages[*]} (for ci/report.sh) and apt-get is unavailable" >&2
    exit 1
  fi
fi
if ! .venv-ble/bin/python -c 'import bluezoo' 2>/dev/null; then
  python3 -m venv .venv-ble
  .venv-ble/bin/pip install --quiet bluezoo==1.0.2
fi
.venv-ble/bin/python ci/patch_bluezoo.py
cargo --version
rustc --version
python3 --version
