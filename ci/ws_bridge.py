#!/usr/bin/env python3
"""Plays an app on a device for `readerlab ... --pos-listen ADDR`: connects
to readerlab's WebSocket once per session and carries the messages to and
from an adapter process started for that session (its stdin and stdout), so
a stdio adapter is judged over the WebSocket transport
(docs/driver-protocol.md). Ends when readerlab stops accepting.

    ci/ws_bridge.py ws://127.0.0.1:PORT -- python adapters/python/readerlab_odoo_adapter.py
"""

import subprocess
import sys
import threading
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

# How long to keep trying to connect once readerlab seems gone.
GIVE_UP_AFTER = 15.0


def carry(url: str, command: list[str]) -> bool:
    """One session; False when nobody accepted a connection in time."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    while True:
        try:
            with connect(url, open_timeout=5, max_size=1 << 20) as socket:
                session(socket, command)
            return True
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def session(socket, command: list[str]) -> None:
    """Carries one session between the socket and a new adapter process."""
    adapter = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def to_adapter() -> None:
        try:
            while True:
                message = socket.recv()
                adapter.stdin.write(message.rstrip("\n") + "\n")
                adapter.stdin.flush()
        except (ConnectionClosed, BrokenPipeError, OSError):
            pass
        finally:
            try:
                adapter.stdin.close()
            except OSError:
                pass

    inbound = threading.Thread(target=to_adapter, daemon=True)
    inbound.start()
    try:
        for line in adapter.stdout:
            if line.strip():
                socket.send(line.rstrip("\n"))
    except ConnectionClosed:
        pass
    adapter.wait(timeout=10)
    socket.close()
    inbound.join(timeout=5)


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    url, command = sys.argv[1], sys.argv[3:]
    sessions = 0
    while carry(url, command):
        sessions += 1
    print(f"ws_bridge: {sessions} session(s) carried", file=sys.stderr)


if __name__ == "__main__":
    main()
