"""The adapter's JSON-RPC handling, spoken to on stdio (no rig needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ADAPTER, REPO, TIMEOUT_S, AdapterProcess


@pytest.fixture
def adapter(tmp_path: Path) -> Iterator[AdapterProcess]:
    process = AdapterProcess(tmp_path / "adapter.log")
    yield process
    process.kill()


def test_a_line_that_is_not_json_is_a_parse_error_with_id_null(adapter: AdapterProcess) -> None:
    adapter.send_line(b"this is not json {")
    reply = adapter.reply()
    assert reply == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": reply["error"]["message"], "data": {"definite": True}},
    }
    assert adapter.call("session.end", {}) == {}


def test_an_unknown_method_is_method_not_found(adapter: AdapterProcess) -> None:
    reply = adapter.request("reader.dance", {})
    assert reply["error"]["code"] == -32601
    assert reply["error"]["data"]["definite"] is True


def test_json_that_is_no_request_is_an_invalid_request(adapter: AdapterProcess) -> None:
    adapter.send_line(b'{"jsonrpc":"1.0","id":7,"method":"session.end"}')
    assert adapter.reply() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": -32600,
            "message": 'invalid request: it needs "jsonrpc": "2.0" and a method',
            "data": {"definite": True},
        },
    }
    adapter.send_line(b"[]")
    assert adapter.reply()["error"]["code"] == -32600


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("clock.advance", {"now_ms": "soon"}),
        ("clock.advance", {}),
        ("payment.collect", {"payment": "coffee", "reader": "STRS7-0001", "amount": 1250}),
        ("session.new", {"protocol": 1}),
        ("session.new", {"protocol": 2, "session": {}, "rig": {}}),
        (
            "session.new",
            {
                "protocol": 1,
                "session": {"id": "s", "data_dir": "/nowhere", "resumed": True, "reported": [7]},
            },
        ),
    ],
)
def test_invalid_params(adapter: AdapterProcess, method: str, params: dict[str, object]) -> None:
    reply = adapter.request(method, params)
    assert reply["error"]["code"] == -32602, reply
    assert reply["error"]["data"]["definite"] is True


def test_params_that_are_not_an_object_are_invalid(adapter: AdapterProcess) -> None:
    adapter.send_line(b'{"jsonrpc":"2.0","id":3,"method":"clock.advance","params":[1000]}')
    assert adapter.reply()["error"]["code"] == -32602


def test_a_notification_from_the_harness_is_ignored(adapter: AdapterProcess) -> None:
    adapter.send_line(
        json.dumps({"jsonrpc": "2.0", "method": "reader.dance", "params": {}}).encode()
    )
    adapter.send_line(
        json.dumps({"jsonrpc": "2.0", "method": "session.end", "params": {}}).encode()
    )
    # Only the request below gets an answer, and the notification did not end the session.
    assert (
        adapter.request("queue.inspect", {})["error"]["message"]
        == "no session: session.new comes first"
    )
    assert adapter.notifications == []


def test_a_blank_line_is_skipped(adapter: AdapterProcess) -> None:
    adapter.send_line(b"   ")
    assert adapter.request("reader.dance", {})["error"]["code"] == -32601


def test_it_exits_after_answering_session_end(adapter: AdapterProcess) -> None:
    assert adapter.call("session.end", {}) == {}
    assert adapter.next_message() is None
    assert adapter.wait_exit() == 0


def test_it_exits_when_stdin_closes(adapter: AdapterProcess) -> None:
    assert adapter.proc.stdin is not None
    adapter.proc.stdin.close()
    assert adapter.wait_exit() == 0
    assert adapter.next_message() is None


def test_an_unknown_defect_is_refused_at_start() -> None:
    done = subprocess.run(
        [sys.executable, str(ADAPTER)],
        cwd=REPO,
        input=b"",
        capture_output=True,
        env={"READERLAB_ODOO_DEFECT": "charge-twice-please"},
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"fresh-key-retry" in done.stderr
