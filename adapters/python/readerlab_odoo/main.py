"""The adapter's process: NDJSON JSON-RPC on stdin/stdout, its log on stderr."""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

from .jsonrpc import (
    METHOD_NOT_FOUND,
    OPERATION_FAILED,
    BadMessage,
    Channel,
    Ignored,
    Params,
    RpcError,
    parse_line,
)
from .pos import Defect
from .session import Session

log = logging.getLogger("readerlab_odoo")

DEFECT_ENV = "READERLAB_ODOO_DEFECT"
# How often a real-clock session looks for due work between requests (seconds).
REAL_CLOCK_TICK_S = 0.25

Methods = dict[str, Callable[[Params], Any]]


def main() -> int:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    # The stripe library logs every request at INFO; the adapter's own lines
    # (and the library's warnings) are what a failing scenario's log needs.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    try:
        defect = Defect(os.environ.get(DEFECT_ENV) or Defect.NONE.value)
    except ValueError:
        known = ", ".join(d.value for d in Defect)
        log.error(
            "%s=%s is no defect of this adapter (%s)", DEFECT_ENV, os.environ[DEFECT_ENV], known
        )
        return 2
    if defect is not Defect.NONE:
        log.warning("defect %s is switched on", defect.value)
    channel = Channel(_take_stdout())
    session = Session(channel.notify, defect)
    serve(_stdin_lines(), channel, session)
    return 0


def serve(lines: queue.Queue[bytes | None], channel: Channel, session: Session) -> None:
    """Answer requests until stdin closes or session.end was answered."""
    methods = session.methods()
    while not session.ended:
        try:
            line = lines.get(timeout=REAL_CLOCK_TICK_S)
        except queue.Empty:
            line = b""
        if line is None:
            log.info("stdin closed: exiting")
            return
        if line.strip():
            handle(line, channel, methods)
        if not session.ended:
            _guarded(session.tick)
    log.info("session ended: exiting")


def handle(line: bytes, channel: Channel, methods: Methods) -> None:
    try:
        message = parse_line(line)
    except BadMessage as bad:
        log.warning("bad message %r: %s", line[:200], bad.error.message)
        channel.error(bad.request_id, bad.error)
        return
    if isinstance(message, Ignored):
        log.info("ignored %s", message.reason)
        return
    method = methods.get(message.method)
    if method is None:
        channel.error(
            message.id, RpcError(METHOD_NOT_FOUND, f"no method {message.method}", definite=True)
        )
        return
    try:
        result = method(message.params)
    except RpcError as err:
        log.info("%s: error %s %s", message.method, err.code, err.message)
        channel.error(message.id, err)
    except Exception as err:  # a bug of the adapter: say so, and keep serving
        log.exception("%s failed", message.method)
        channel.error(
            message.id, RpcError(OPERATION_FAILED, f"internal error: {err}", definite=False)
        )
    else:
        channel.result(message.id, result)


def _guarded(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:
        log.exception("background work failed")


def _take_stdout() -> int:
    """Keep fd 1 for the protocol alone: anything else printed goes to the log."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_fd


def _stdin_lines() -> queue.Queue[bytes | None]:
    """Lines of stdin, read by a thread so a real clock can tick between them; None at EOF."""
    lines: queue.Queue[bytes | None] = queue.Queue()

    def read() -> None:
        # os.read, not sys.stdin: a daemon thread blocked in a buffered reader
        # aborts the interpreter's exit.
        pending = b""
        while chunk := os.read(0, 1 << 16):
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                lines.put(line)
        if pending:
            lines.put(pending)
        lines.put(None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    return lines
