#!/usr/bin/env python3
"""The smallest adapter of readerlab's POS driver protocol, version 2
(docs/driver-protocol.md): it answers `session.new` with no capability,
`-32601` (method not found) to every other request, `-32700` to a line that
is not JSON, and exits on `session.end` or when its stdin closes.

Start here: `readerlab conform --pos 'python3 adapters/skeleton/adapter.py'`
runs the protocol checks and says which capabilities are missing; then fill
in `payment.collect` and `clock.advance` with calls of your own SDK, and
declare what you implemented in CAPABILITIES.
"""

import json
import sys

# What this adapter can do: an absent capability is unsupported, and the
# scenarios that need it are skipped with that reason.
CAPABILITIES: dict = {}


def answer(request_id, result=None, error=None):
    message = {"jsonrpc": "2.0", "id": request_id}
    if error is None:
        message["result"] = result
    else:
        message["error"] = error
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def handle(message) -> bool:
    """Answers one request; returns False when the session is over."""
    method, request_id = message.get("method"), message.get("id")
    if request_id is None:
        return True  # a notification: nothing to answer
    if method == "session.new":
        print(f"session.new for rig {message['params']['rig']}", file=sys.stderr)
        answer(request_id, {
            "protocol": 2,
            "adapter": {"name": "skeleton", "version": "1"},
            "capabilities": CAPABILITIES,
        })
    elif method == "session.end":
        answer(request_id, {})
        return False
    else:
        answer(request_id, error={"code": -32601, "message": f"method not found: {method}",
                                  "data": {"definite": True}})
    return True


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError as error:
            answer(None, error={"code": -32700, "message": f"parse error: {error}"})
            continue
        if (not isinstance(message, dict) or message.get("jsonrpc") != "2.0"
                or not isinstance(message.get("method"), str)):
            answer(message.get("id") if isinstance(message, dict) else None,
                   error={"code": -32600, "message": "invalid request"})
            continue
        if not handle(message):
            return


if __name__ == "__main__":
    main()
