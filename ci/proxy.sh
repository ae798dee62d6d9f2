#!/usr/bin/env bash
# The fault proxy against a real Toxiproxy client: starts `readerlab proxy`
# on a free-ish port, waits for its API, and runs ci/toxiproxy_client.py
# (toxiproxy-python 0.1.1, installed in .venv-ci on first use). The server
# is killed on the way out, whatever happened. Expects target/release/readerlab
# (`cargo build --release -p readerlab`).
set -euo pipefail
cd "$(dirname "$0")/.."

readerlab=target/release/readerlab
port=${PROXY_API_PORT:-18474}
url="http://127.0.0.1:$port"

if [ ! -x "$readerlab" ]; then
  echo "ci/proxy.sh: $readerlab is missing; run cargo build --release -p readerlab" >&2
  exit 1
fi
if ! .venv-ci/bin/python -c 'import toxiproxy' 2>/dev/null; then
  python3 -m venv .venv-ci
  .venv-ci/bin/pip install --quiet toxiproxy-python==0.1.1
fi

"$readerlab" proxy --listen "127.0.0.1:$port" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if .venv-ci/bin/python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1])" \
    "$url/version" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "ci/proxy.sh: readerlab proxy exited before answering on $url" >&2
    exit 1
  fi
  sleep 0.1
done

.venv-ci/bin/python ci/toxiproxy_client.py "$url"
