#!/usr/bin/env bash
# Serve mode against clients nobody here wrote, on loopback sockets:
#  1. the official `stripe` library (stripe==16.1.0) against `readerlab
#     serve` on the real clock: server-driven S700 payments with test cards
#     reach their documented outcomes, idempotent retries return the same
#     object (ci/stripe_client.py);
#  2. a smart reader's offline payment over sockets with a reboot in the
#     middle, on a virtual clock, and the checker on the served history
#     (ci/served_offline.py, then `readerlab check`);
#  3. the fault proxy driven by toxiproxy-python (ci/proxy.sh);
#  4. the bundled features on the served target;
#  5. a 30 s soak: payments, faults and rig restarts against a served child,
#     its memory and descriptors judged flat (docs/soak.md).
# Python packages live in .venv-ci. Expects target/release/readerlab.
set -euo pipefail
cd "$(dirname "$0")/.."

readerlab=target/release/readerlab
if ! .venv-ci/bin/python -c 'import stripe, toxiproxy' 2>/dev/null; then
  python3 -m venv .venv-ci
  .venv-ci/bin/pip install --quiet stripe==16.1.0 toxiproxy-python==0.1.1
fi
work=$(mktemp -d)
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# serve ADDR CLOCK: starts a server and waits until its control API answers.
serve() {
  "$readerlab" serve --listen "$1" --clock "$2" --data "$work/data-$2" > "$work/serve-$2.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 100); do
    if .venv-ci/bin/python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1])" \
      "http://$1/_readerlab/clock" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "ci/served.sh: readerlab serve on $1 did not answer" >&2
  cat "$work/serve-$2.log" >&2
  exit 1
}

echo "--- stripe-python against readerlab serve (real clock)"
serve 127.0.0.1:18111 real
.venv-ci/bin/python ci/stripe_client.py --api-base http://127.0.0.1:18111 --api-key sk_test_readerlab

echo "--- offline smart reader over sockets, reboot in the middle (virtual clock)"
serve 127.0.0.1:18112 virtual
.venv-ci/bin/python ci/served_offline.py --base http://127.0.0.1:18112 --history "$work/served.jsonl"
"$readerlab" check "$work/served.jsonl"

echo "--- toxiproxy-python against the fault proxy"
bash ci/proxy.sh

echo "--- the bundled features on the served target"
"$readerlab" run --target served

echo "--- scale: 1,000 smart readers forward 100,000 stored payments through HTTP"
"$readerlab" bench serve --json

echo "--- the bundled features on the served target, mobile readers over BLE-over-TCP"
"$readerlab" run --target served --ble tcp

echo "--- soak: 30 s of payments, faults and rig restarts; memory and descriptors flat"
"$readerlab" soak --seconds 30
