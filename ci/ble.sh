#!/usr/bin/env bash
# The BlueZ path for emulated mobile readers, without a kernel Bluetooth
# stack: a private D-Bus bus (dbus-run-session) carries bluezoo, a user-space
# BlueZ with two virtual adapters that see each other (00:00:00:00:00:01
# serves the readers, 00:00:00:00:00:02 is the POS). On it run the end-to-end
# test (emulator/tests/ble_bluez.rs), `readerlab bench ble --json`, and the
# offline-over-Bluetooth feature on the served target with `--ble bluez`.
#
# Installs nothing: ci/setup.sh provides libdbus, dbus-daemon and bluezoo in
# .venv-ble (patched by ci/patch_bluezoo.py). Run from anywhere:
#   bash ci/ble.sh
set -euo pipefail
cd "$(dirname "$0")/.."
features="--features readerlab/bluez,readerlab/btleplug"

if [ -z "${READERLAB_BLE_BUS:-}" ]; then
  for tool in dbus-run-session dbus-send pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || { echo "ci/ble.sh: $tool missing; run ci/setup.sh" >&2; exit 1; }
  done
  [ -x .venv-ble/bin/bluezoo ] || { echo "ci/ble.sh: .venv-ble/bin/bluezoo missing; run ci/setup.sh" >&2; exit 1; }
  # Build outside the private bus first, so its wait is not in the timing.
  # Everything here builds in the dev profile, with the features `cargo
  # test --workspace` unified, so that its compiled dependencies are reused
  # and only the Bluetooth crates and ours build again: a second release
  # build took four and a half minutes of CI's twenty, and building per
  # package (`-p`) compiled tokio, serde and sixty others again (two
  # minutes). Building readerlab's small `layout` test also builds
  # target/debug/readerlab, with the features; the release binary stays as
  # the other scripts built it.
  cargo test --locked --workspace $features --test ble_bluez --test layout --no-run
  exec env READERLAB_BLE_BUS=1 dbus-run-session -- bash ci/ble.sh "$@"
fi

# Inside dbus-run-session: the session bus stands in for the system bus.
export DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS"
log=$(mktemp -t bluezoo.XXXXXX.log)
.venv-ble/bin/bluezoo --auto-enable --scan-interval 1 \
  -a 00:00:00:00:00:01 -a 00:00:00:00:00:02 -a 00:00:00:00:00:03 >"$log" 2>&1 &
bluezoo=$!
cleanup() {
  kill "$bluezoo" 2>/dev/null || true
  wait "$bluezoo" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

ready=0
for _ in $(seq 1 100); do
  if dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.ListNames 2>/dev/null | grep -q '"org.bluez"'; then
    ready=1
    break
  fi
  if ! kill -0 "$bluezoo" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ "$ready" -ne 1 ]; then
  echo "ci/ble.sh: bluezoo did not take org.bluez on the bus within 10 s; its log:" >&2
  cat "$log" >&2
  exit 1
fi

# Known flake: two readers taking turns on one bluezoo adapter can leave
# the POS holding GATT objects of the previous slot ("Path, Interface, or
# Method does not exist" for 20 s), or the second reader's advertisement
# unseen by the scan. Seen once in about 17 runs, then twice in a row in one
# run on 2026-12-07 (a connect timeout, then a scan that missed STRM2-0001),
# passing alone right after. Said loudly and tried three times; a third
# failure fails CI.
status=1
for try in 1 2 3; do
  status=0
  cargo test --locked --workspace $features --test ble_bluez || status=$?
  [ "$status" -ne 0 ] || break
  echo "ci/ble.sh: ble_bluez failed (try $try of 3; the one-adapter rotation race)" >&2
done
if [ "$status" -eq 0 ]; then
  # Round trips of a dev build: slower than a release build's, recorded as
  # CI saw them (README's figures are from release builds).
  target/debug/readerlab bench ble --json || status=$?
fi
if [ "$status" -eq 0 ]; then
  # The served target with every mobile reader's link on BlueZ: readerlab
  # serve advertises the M2, then the WisePad 3, through bluer on adapter 1;
  # the POS finds and connects to each through btleplug on adapter 2. Each
  # scenario loses the signal mid-collect (the connection drops, the POS
  # reconnects over BlueZ) and the checker judges its history; then the
  # radio-off, signal-lost and lost/late-notification scenarios over BlueZ.
  histories=$(mktemp -d -t ble-histories.XXXXXX)
  target/debug/readerlab run features/offline/over_bluetooth.feature \
    features/faults/bluetooth.feature features/faults/bluetooth_notifications.feature \
    --target served --ble bluez --history-dir "$histories" || status=$?
  if [ "$status" -eq 0 ]; then
    for history in "$histories"/*.jsonl; do
      target/debug/readerlab check "$history" || status=$?
    done
  fi
  rm -rf "$histories"
fi
if [ "$status" -eq 0 ]; then
  # A lab rig's view: readerlab serve advertises its M2 (STRM2-0004 in the
  # default rig) on adapter 1 with its POS connected from adapter 2; a
  # third adapter (bluezoo names them in order: hci2 is 00:00:00:00:00:03)
  # scans for readers and reads their Device Information and battery, as it
  # would a physical reader's.
  data=$(mktemp -d -t ble-serve.XXXXXX)
  target/debug/readerlab serve --ble bluez --clock virtual --listen 127.0.0.1:18211 \
    --data "$data" > "$data/serve.log" 2>&1 &
  served=$!
  for _ in $(seq 1 100); do
    grep -q "control API" "$data/serve.log" 2>/dev/null && break
    sleep 0.1
  done
  scan=$(target/debug/readerlab readers --scan --adapter hci2 --seconds 3 --json) || status=$?
  echo "$scan"
  kill -INT "$served" 2>/dev/null || true
  wait "$served" 2>/dev/null || true
  if [ "$status" -eq 0 ] && ! echo "$scan" | grep -q '"serial_number":"STRM2-0004"'; then
    echo "ci/ble.sh: readers --scan did not read the served M2's Device Information" >&2
    cat "$data/serve.log" >&2
    status=1
  fi
  rm -rf "$data"
fi
if [ "$status" -ne 0 ]; then
  echo "ci/ble.sh: failed (exit $status); bluezoo's log:" >&2
  tail -n 100 "$log" >&2
fi
exit "$status"
