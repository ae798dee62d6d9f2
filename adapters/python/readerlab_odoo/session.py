"""The adapter's methods: session.new and the POS operations of driver protocol 1."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import backend
from .backend import NoAnswer, Obj, Refused
from .jsonrpc import OPERATION_FAILED, Params, RpcError, invalid_params, optional, refused, required
from .pos import Defect, Notify, Pos
from .store import Store

log = logging.getLogger(__name__)

PROTOCOL = 1
ADAPTER = {"name": "readerlab-odoo-adapter", "version": "1.0.0"}
MODELS = ("s700", "wisepos_e")
BEHAVIORS = ("PREFER_ONLINE", "REQUIRE_ONLINE")


class Clock:
    """Rig time: moved by clock.advance on a virtual clock, by the wall on a real one."""

    def __init__(self, mode: str, now_ms: int) -> None:
        self.mode = mode
        self._base_ms = now_ms
        self._base_wall = time.monotonic()

    def advance(self, now_ms: int) -> None:
        self._base_ms = max(now_ms, self.now_ms())
        self._base_wall = time.monotonic()

    def now_ms(self) -> int:
        if self.mode == "virtual":
            return self._base_ms
        return self._base_ms + int((time.monotonic() - self._base_wall) * 1000)


@dataclass(frozen=True)
class RigReader:
    serial: str
    model: str
    registration_code: str


def capabilities(defect: Defect) -> dict[str, Any]:
    caps: dict[str, Any] = {
        "integration": "server_driven",
        "models": list(MODELS),
        "clock": True,
        "payment.cancel": True,
        "app.kill": True,
        "sync.force": True,
        "queue.inspect": True,
        "x-odoo:force_done": True,
        "x-odoo:minimum_amount": "0.50 of the currency's major unit",
    }
    if defect is not Defect.NONE:
        caps["x-odoo:defect"] = defect.value
    return caps


class Session:
    """One adapter process: no session until session.new, then a POS."""

    def __init__(self, notify: Notify, defect: Defect) -> None:
        self._notify = notify
        self._defect = defect
        self._clock: Clock | None = None
        self._store: Store | None = None
        self._pos: Pos | None = None
        self.ended = False

    def methods(self) -> dict[str, Callable[[Params], Any]]:
        return {
            "session.new": self.new,
            "session.end": self.end,
            "clock.advance": self.clock_advance,
            "payment.collect": self.collect,
            "payment.cancel": self.cancel,
            "sync.force": self.sync_force,
            "queue.inspect": self.queue_inspect,
        }

    def new(self, params: Params) -> Obj:
        if self._pos is not None:
            raise refused("the session has already started")
        # The harness offers the newest version it speaks; one that adds to
        # ours is answered with ours (docs/driver-protocol.md, "Versions").
        if required(params, "protocol", int) < PROTOCOL:
            raise invalid_params(f"this adapter speaks protocol {PROTOCOL}")
        session = required(params, "session", dict)
        data_dir = Path(required(session, "data_dir", str))
        resumed = required(session, "resumed", bool)
        recorded = optional(session, "reported", list, [])
        if not all(isinstance(name, str) for name in recorded):
            raise invalid_params("session.reported holds payment names")
        rig = required(params, "rig", dict)
        clock = required(rig, "clock", dict)
        mode = required(clock, "mode", str)
        if mode not in ("virtual", "real"):
            raise invalid_params(f"unknown clock mode {mode!r}")
        rig_backend = required(rig, "backend", dict)
        readers = _rig_readers(required(rig, "readers", list))
        self._clock = Clock(mode, required(clock, "now_ms", int))
        backend.configure(
            required(rig_backend, "base_url", str), required(rig_backend, "secret_key", str)
        )
        if self._store is not None:  # a session.new that failed before
            self._store.close()
        self._store = Store(data_dir, fresh=not resumed)
        log.info("session %s in %s (resumed: %s)", session.get("id"), data_dir, resumed)
        try:
            registered = _register_readers(self._store, readers)
        except NoAnswer as err:
            raise RpcError(
                OPERATION_FAILED, f"registering the readers: {err}", definite=False
            ) from err
        except Refused as err:
            raise refused(f"registering the readers: {err.message}", err.code) from err
        self._pos = Pos(self._store, registered, self._notify, self._defect)
        if resumed:
            # Its outcomes readerlab lacks go out right after this answer (tick).
            self._pos.resume(set(recorded))
        return {
            "protocol": PROTOCOL,
            "adapter": ADAPTER,
            "capabilities": capabilities(self._defect),
        }

    def end(self, params: Params) -> Obj:
        if self._store is not None:
            self._store.close()
        self.ended = True
        return {}

    def clock_advance(self, params: Params) -> Obj:
        now_ms = required(params, "now_ms", int)
        pos, clock = self._started()
        clock.advance(now_ms)
        pos.tick(clock.now_ms())
        return {}

    def tick(self) -> None:
        """Between requests (notifications may be written at any time): report the
        outcomes decided and not yet reported, and on a real clock run what is due."""
        if self._pos is None or self._clock is None:
            return
        if self._clock.mode == "real":
            self._pos.tick(self._clock.now_ms())
        else:
            self._pos.report_pending()

    def collect(self, params: Params) -> Obj:
        name = required(params, "payment", str)
        serial = required(params, "reader", str)
        amount = required(params, "amount", dict)
        minor_units = required(amount, "amount", int)
        currency = required(amount, "currency", str).lower()
        behavior = optional(params, "behavior", str, "PREFER_ONLINE")
        if minor_units <= 0:
            raise invalid_params("amount.amount must be a positive number of minor units")
        pos, clock = self._started()
        if behavior not in BEHAVIORS:
            raise refused(
                f"a server-driven POS cannot take a payment {behavior}", "behavior_unsupported"
            )
        return pos.collect(name, serial, minor_units, currency, clock.now_ms())

    def cancel(self, params: Params) -> Obj:
        name = required(params, "payment", str)
        pos, clock = self._started()
        pos.cancel(name, clock.now_ms())
        return {}

    def sync_force(self, params: Params) -> Obj:
        pos, clock = self._started()
        pos.tick(clock.now_ms(), force=True)
        return {}

    def queue_inspect(self, params: Params) -> Obj:
        pos, _ = self._started()
        return {"payments": pos.queue()}

    def _started(self) -> tuple[Pos, Clock]:
        if self._pos is None or self._clock is None:
            raise refused("no session: session.new comes first")
        return self._pos, self._clock


def _rig_readers(readers: list[Any]) -> list[RigReader]:
    """The rig's smart readers of the models this POS drives."""
    found = []
    for reader in readers:
        if not isinstance(reader, dict):
            raise invalid_params("rig.readers holds objects")
        serial = required(reader, "serial", str)
        model = required(reader, "model", str)
        if model not in MODELS:
            log.info("reader %s (%s) is not one this POS drives", serial, model)
            continue
        found.append(RigReader(serial, model, required(reader, "registration_code", str)))
    return found


def _register_readers(store: Store, readers: list[RigReader]) -> dict[str, str]:
    """Register the rig's readers (those the database lacks) and return serial → reader id.

    Readers of one model share a registration code and each registration binds
    the next free one, so a code is registered once per reader, each time under
    its own stored key, and the answers are matched by serial_number.
    """
    if not _unregistered(store, readers):
        return store.readers()
    wanted = {reader.serial: reader for reader in readers}
    for found in backend.list_readers():
        _remember(store, wanted, found)
    for code in sorted({reader.registration_code for reader in _unregistered(store, readers)}):
        location = _location(store)
        sharing = sum(reader.registration_code == code for reader in readers)
        for attempt in range(1, sharing + 1):
            if not _unregistered(store, readers, code):
                break
            key = store.idempotency_key(f"register:{code}:{attempt}")
            _remember(store, wanted, backend.register_reader(code, location, key))
    missing = ", ".join(reader.serial for reader in _unregistered(store, readers))
    if missing:
        raise refused(f"could not register {missing}", "reader_unregistered")
    return store.readers()


def _unregistered(
    store: Store, readers: list[RigReader], code: str | None = None
) -> list[RigReader]:
    known = store.readers()
    return [
        reader
        for reader in readers
        if reader.serial not in known and code in (None, reader.registration_code)
    ]


def _remember(store: Store, wanted: dict[str, RigReader], reader: Obj) -> None:
    rig_reader = wanted.get(reader.get("serial_number") or "")
    if rig_reader is not None:
        store.add_reader(rig_reader.serial, reader["id"], rig_reader.model)


def _location(store: Store) -> str:
    location = store.setting("location")
    if location is None:
        location = backend.create_location(store.idempotency_key("location"))["id"]
        store.set_setting("location", location)
    return location
