#!/usr/bin/env bash
# Replay and the timeline report (docs/report.md), end to end:
#   - replay: a simulator history comes back identical; one edited by hand
#     names its first divergence (exit 1); a served history is re-judged;
#   - report: an explore counterexample that breaks I2 under a defect
#     profile, drawn and opened in headless Chromium (Debian's package,
#     driven by Selenium through Debian's chromedriver): the violation
#     sentence, the lanes, the shaded fault windows and the payment span
#     are in the DOM; the screenshot is kept in target/ci-artifacts/;
#   - run --report DIR: the index lists every scenario, and each timeline
#     it links renders;
#   - the live view of a running `readerlab serve` shows an event injected
#     through the control API without a reload.
# Expects target/release/readerlab; Python packages live in .venv-ci.
set -euo pipefail
cd "$(dirname "$0")/.."
readerlab=target/release/readerlab
work=target/ci-report
artifacts=target/ci-artifacts
rm -rf "$work" && mkdir -p "$work" "$artifacts"
if ! .venv-ci/bin/python -c 'import selenium' 2>/dev/null; then
  [ -x .venv-ci/bin/python ] || python3 -m venv .venv-ci
  .venv-ci/bin/pip install --quiet selenium==4.51.0
fi
py=.venv-ci/bin/python

# Replay.
"$readerlab" run features/faults/response_lost.feature --history-dir "$work/sim" > /dev/null 2>&1
history=$(ls "$work"/sim/*.jsonl | head -n 1)
"$readerlab" replay "$history" | tee "$work/replay.txt"
grep -q '^readerlab replay: identical (' "$work/replay.txt"
sed 's/"capture":"automatic"/"capture":"manual"/' "$history" > "$work/edited.jsonl"
status=0
"$readerlab" replay "$work/edited.jsonl" > "$work/edited.txt" || status=$?
if [ "$status" -ne 1 ] || ! grep -q 'diverges from its replay at event' "$work/edited.txt"; then
  echo "ci: replay of an edited history exited $status without naming the divergence" >&2
  cat "$work/edited.txt" >&2
  exit 1
fi
head -n 1 "$work/edited.txt"
"$readerlab" run features/faults/response_lost.feature --target served --history-dir "$work/served" > /dev/null 2>&1
for served in "$work"/served/*.jsonl; do
  "$readerlab" replay "$served" > "$work/served.txt"
  grep -Eq 'identical|re-judged' "$work/served.txt"
done
echo "ci: replay: identical, divergence named, served histories re-judged"

# A counterexample breaking I2, drawn and opened in Chromium.
defect=double-forward-on-reconnect
status=0
"$readerlab" explore --defect "$defect" --seed 3 --cases 2000 --out "$work/explore" \
  --report "$work/explore-report" > "$work/explore.txt" 2>&1 || status=$?
if [ "$status" -ne 1 ]; then
  echo "ci: explore --defect $defect exited $status, expected 1" >&2
  cat "$work/explore.txt" >&2
  exit 1
fi
test -s "$work/explore-report/index.html" && ls "$work"/explore-report/"$defect"-*.html > /dev/null
page="$work/counterexample.html"
"$readerlab" report "$(ls "$work"/explore/"$defect"-*.jsonl)" -o "$page"
"$py" ci/browser_check.py report "$page" --violation "I2 (exactly once)" --violation "charged" \
  --screenshot "$artifacts/report-$defect.png"

# run --report: an index linking every scenario.
"$readerlab" run features/faults --report "$work/run-report" > /dev/null 2>&1
scenarios=$("$readerlab" run features/faults --json 2>/dev/null | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))')
"$py" ci/browser_check.py index "$work/run-report/index.html" --scenarios "$scenarios"

# The live view of a running serve.
port=18219
"$readerlab" serve --listen "127.0.0.1:$port" --data "$work/serve-data" > "$work/serve.log" 2>&1 &
serve=$!
trap 'kill "$serve" 2>/dev/null || true' EXIT
"$py" - "$port" <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 20
while True:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_readerlab/clock", timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("ci: readerlab serve did not answer within 20 s")
        time.sleep(0.1)
PY
"$py" ci/browser_check.py live "http://127.0.0.1:$port" --screenshot "$artifacts/live-view.png"
kill "$serve"
wait "$serve" 2>/dev/null || true
trap - EXIT
echo "ci: report: counterexample drawn, run index complete, live view updates (screenshots in $artifacts)"
