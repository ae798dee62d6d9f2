#!/usr/bin/env python3
"""A network power switch for a bench with no hardware, in the shape of
labgrid's `rest` power model (labgrid/driver/power/rest.py): `PUT
/relay/INDEX` with `0` or `1` switches port INDEX off or on, `GET
/relay/INDEX` answers its state, `0` or `1`.

Switching a port runs the shell command in the environment variable
RELAY_OFF_INDEX or RELAY_ON_INDEX (for a served bench: a call to its control
API), so labgrid's own power driver (`labgrid-client power off`) reaches the
bench the way it would reach a relay. Used by scenarios/tests/lab.rs.

    power_relay.py PORT
"""

import http.server
import os
import subprocess
import sys

STATE = {}


class Relay(http.server.BaseHTTPRequestHandler):
    def _index(self):
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "relay" or not parts[1].isdigit():
            self.send_error(404, "not a relay port: " + self.path)
            return None
        return parts[1]

    def _answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        index = self._index()
        if index is not None:
            self._answer(200, STATE.get(index, "1"))

    def do_PUT(self):
        index = self._index()
        if index is None:
            return
        length = int(self.headers.get("content-length", "0"))
        value = self.rfile.read(length).decode().strip()
        if value not in ("0", "1"):
            self._answer(400, "send 0 or 1")
            return
        command = os.environ.get(("RELAY_ON_" if value == "1" else "RELAY_OFF_") + index)
        if command is None:
            self._answer(404, "no command for port " + index)
            return
        done = subprocess.run(["sh", "-c", command], capture_output=True, timeout=30)
        if done.returncode != 0:
            self._answer(500, done.stderr.decode(errors="replace"))
            return
        STATE[index] = value
        self._answer(200, value)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Relay)
    print("listening", flush=True)
    server.serve_forever()
