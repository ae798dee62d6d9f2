"""What the tests need to play readerlab: the adapter as a subprocess, a served rig,
and a fault proxy on the POS's internet link."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
# As readerlab runs it: from its own working directory (the repository root).
ADAPTER = Path("adapters") / "python" / "readerlab_odoo_adapter.py"
READERLAB = REPO / "target" / "release" / "readerlab"
SECRET_KEY = "sk_test_readerlab"
REGISTRATION_CODES = {"s700": "simulated-s700", "wisepos_e": "simulated-wpe"}
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
# Real time any single exchange may take before a test fails instead of hanging.
TIMEOUT_S = 10.0

Json = dict[str, Any]


class AdapterProcess:
    """The adapter under test, spoken to on its stdin and stdout."""

    def __init__(self, log_path: Path, defect: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k != "READERLAB_ODOO_DEFECT"}
        if defect is not None:
            env["READERLAB_ODOO_DEFECT"] = defect
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(ADAPTER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=REPO,
                env=env,
            )
        self.notifications: list[Json] = []
        self._messages: queue.Queue[Json | None] = queue.Queue()
        self._next_id = 1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._messages.put(json.loads(line))
        self._messages.put(None)

    def send_line(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def next_message(self, timeout: float = TIMEOUT_S) -> Json | None:
        """The next message on stdout, None when stdout closed."""
        try:
            return self._messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"the adapter said nothing for {timeout} s\n{self.log()}"
            ) from None

    def reply(self) -> Json:
        """The next message, which must come."""
        message = self.next_message()
        assert message is not None, f"the adapter closed stdout\n{self.log()}"
        return message

    def notification(self) -> Json:
        """The next message, which must be a notification written with no request
        outstanding (kept with the others)."""
        message = self.reply()
        assert "id" not in message, message
        self.notifications.append(message)
        return message

    def request(self, method: str, params: Json, timeout: float = TIMEOUT_S) -> Json:
        """Send a request; return its response, keeping the notifications sent before it."""
        request_id = self._next_id
        self._next_id += 1
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        self.send_line(json.dumps(message).encode())
        deadline = time.monotonic() + timeout
        while True:
            reply = self.next_message(max(deadline - time.monotonic(), 0.01))
            assert reply is not None, f"the adapter closed stdout during {method}\n{self.log()}"
            if "id" in reply:
                assert reply["id"] == request_id, reply
                return reply
            self.notifications.append(reply)

    def call(self, method: str, params: Json) -> Any:
        reply = self.request(method, params)
        assert "result" in reply, f"{method}: {reply}\n{self.log()}"
        return reply["result"]

    def ended(self) -> list[Json]:
        return [n["params"] for n in self.notifications if n["method"] == "payment.ended"]

    def wait_exit(self, timeout: float = TIMEOUT_S) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=TIMEOUT_S)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


class ServedRig:
    """`readerlab serve --clock virtual`, driven through its control API."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [
                str(READERLAB),
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--clock",
                "virtual",
                "--data",
                str(data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.port = self._read_port()
        self.backend_url = f"http://127.0.0.1:{self.port}"

    def _read_port(self) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            found = re.search(
                r"control API\s+http://127\.0\.0\.1:(\d+)", self.proc.stdout.readline()
            )
            if found:
                return int(found.group(1))
        raise AssertionError("readerlab serve did not say where it listens")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=TIMEOUT_S)

    def control(self, method: str, path: str, body: Json | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        url = f"{self.backend_url}/_readerlab{path}"
        request = urllib.request.Request(url, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def start(self, models: list[str]) -> None:
        """A fresh rig (and ledger), its readers connected."""
        status, _ = self.control(
            "POST",
            "/rig",
            {
                "readers": models,
                "seed": 1,
                "defects": [],
                "offline": {
                    "enabled": False,
                    "max_amount": {},
                    "stored_amount_limit": {},
                    "max_records": 1000,
                    "eea": False,
                },
                "drain_window": {"secs": 120, "nanos": 0},
                "mobile_link": None,
            },
        )
        assert status == 201
        self.advance(5_000)

    def advance(self, by_ms: int) -> int:
        status, answer = self.control("POST", "/clock/advance", {"by_ms": by_ms})
        assert status == 200, answer
        return int(answer["now_ms"])

    def now_ms(self) -> int:
        return int(self.control("GET", "/clock")[1]["now_ms"])

    def readers(self) -> list[Json]:
        return list(self.control("GET", "/readers")[1]["readers"])

    def busy(self, serial: str) -> bool:
        return bool(self.control("GET", f"/readers/{serial}")[1]["busy"])

    def present_card(self, serial: str, number: str) -> bool:
        """Tap the card; False when the reader does not take it (409: not collecting,
        or a card is already in its slot)."""
        status, answer = self.control("POST", f"/readers/{serial}/present_card", {"number": number})
        assert status in (200, 409), answer
        return status == 200

    def api(self, method: str, path: str, form: dict[str, str] | None = None) -> Json:
        """The backend's Stripe API, with the account's key (not through the POS's link)."""
        data = None if form is None else urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(
            f"{self.backend_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            result: Json = json.loads(answer.read())
            return result

    def intents_for(self, payment: str) -> list[Json]:
        """The ledger's PaymentIntents that carry this payment's name."""
        intents = self.control("GET", "/ledger")[1]["payment_intents"]
        return [i for i in intents if i["metadata"].get("readerlab_payment") == payment]


Rule = Callable[[str, str], bool]


class FaultProxy:
    """The POS's internet link: an HTTP relay to the backend that can be cut,
    or perform a request and lose its answer (the connection closes first)."""

    def __init__(self, upstream_port: int) -> None:
        self.down = False
        self.seen: list[tuple[str, str]] = []
        self._lose: list[Rule] = []
        self._replace: list[tuple[Rule, Json]] = []
        proxy = self

        class Relay(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._relay(self, upstream_port)

            do_POST = do_DELETE = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def lose_next_answer(self, rule: Rule) -> None:
        """The next request matching `rule(method, path)` is performed, its answer lost."""
        self._lose.append(rule)

    def replace_next_answer(self, rule: Rule, body: Json) -> None:
        """The next request matching `rule(method, path)` is performed, and answered
        200 with `body` instead of the backend's answer."""
        self._replace.append((rule, body))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _relay(self, handler: BaseHTTPRequestHandler, upstream_port: int) -> None:
        handler.close_connection = True
        self.seen.append((handler.command, handler.path))
        if self.down:
            return
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=TIMEOUT_S)
        headers = {
            k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")
        }
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        upstream.close()
        rule = next((r for r in self._lose if r(handler.command, handler.path)), None)
        if rule is not None:
            self._lose.remove(rule)
            return
        status, answer_headers = answer.status, answer.getheaders()
        replaced = next((r for r in self._replace if r[0](handler.command, handler.path)), None)
        if replaced is not None:
            self._replace.remove(replaced)
            status, payload = 200, json.dumps(replaced[1]).encode()
            answer_headers = [("Content-Type", "application/json")]
        handler.send_response(status)
        for name, value in answer_headers:
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


class Harness:
    """The part of readerlab the tests play: it starts the adapter, moves the rig's
    clock and the adapter's together, and is the customer at the reader."""

    def __init__(self, rig: ServedRig, proxy: FaultProxy, tmp_path: Path) -> None:
        self.rig = rig
        self.proxy = proxy
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "pos-data"
        self.adapters: list[AdapterProcess] = []

    @property
    def adapter(self) -> AdapterProcess:
        return self.adapters[-1]

    def start_adapter(
        self,
        *,
        resumed: bool = False,
        defect: str | None = None,
        clock: str = "virtual",
        reported: list[str] | None = None,
        protocol: int = 1,
    ) -> Json:
        """Start the adapter and its session. On a restart `session.reported` is, as
        readerlab sends it, every payment whose payment.ended was received (unless
        `reported` says otherwise)."""
        n = len(self.adapters)
        if reported is None:
            reported = sorted({e["payment"] for a in self.adapters for e in a.ended()})
        self.adapters.append(AdapterProcess(self.tmp_path / f"adapter{n}.log", defect))
        params = self.session_params(resumed, clock)
        params["protocol"] = protocol
        if resumed and reported:
            params["session"]["reported"] = reported
        result: Json = self.adapter.call("session.new", params)
        return result

    def session_params(self, resumed: bool, clock: str) -> Json:
        readers = [
            {
                "serial": r["serial"],
                "model": r["model"],
                "family": "smart",
                "stored_by": r["stored_by"],
                "registration_code": REGISTRATION_CODES[r["model"]],
            }
            for r in self.rig.readers()
        ]
        return {
            "protocol": 1,
            "harness": {"name": "readerlab", "version": "test"},
            "session": {"id": "t1", "data_dir": str(self.data_dir), "resumed": resumed},
            "rig": {
                "clock": {"mode": clock, "now_ms": self.rig.now_ms()},
                "backend": {
                    "base_url": self.proxy.url,
                    "secret_key": SECRET_KEY,
                    "account": "acct_readerlab",
                },
                "readers": readers,
            },
            "capabilities": {"asked": ["clock", "payment.cancel", "app.kill"]},
        }

    def advance(self, by_ms: int) -> None:
        now_ms = self.rig.advance(by_ms)
        self.adapter.call("clock.advance", {"now_ms": now_ms})

    def collect(self, payment: str, serial: str, amount: int = 1250) -> Json:
        return self.adapter.request(
            "payment.collect",
            {
                "payment": payment,
                "reader": serial,
                "amount": {"amount": amount, "currency": "usd"},
                "behavior": "PREFER_ONLINE",
            },
        )

    def ended(self, payment: str) -> list[Json]:
        return [e for a in self.adapters for e in a.ended() if e["payment"] == payment]

    def pay(self, payment: str, serial: str, card: str, *, max_s: int = 20) -> list[Json]:
        """As readerlab: present the card whenever the reader collects, advance rig
        time a second at a time until the payment ended and the reader is free."""
        for _ in range(max_s):
            if self.rig.busy(serial):
                self.rig.present_card(serial, card)
            self.advance(1_000)
            if self.ended(payment) and not self.rig.busy(serial):
                break
        return self.ended(payment)

    def close(self) -> None:
        for adapter in self.adapters:
            adapter.kill()
