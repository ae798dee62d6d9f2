"""The POS's SQLite database in `session.data_dir`: readers, payments, idempotency keys.

Every statement commits on its own (autocommit), and every change that a
request depends on is committed before the request goes out, so a SIGKILL at
any moment leaves a state the next start can continue from.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DB_NAME = "odoo_pos.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    purpose TEXT PRIMARY KEY,
    key     TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS readers (
    serial    TEXT PRIMARY KEY,
    reader_id TEXT NOT NULL,
    model     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payments (
    name                 TEXT PRIMARY KEY,
    reader               TEXT NOT NULL,
    amount               INTEGER NOT NULL,
    currency             TEXT NOT NULL,
    attempt              INTEGER NOT NULL DEFAULT 1,
    intent               TEXT,
    state                TEXT NOT NULL,
    cancel_requested     INTEGER NOT NULL DEFAULT 0,
    next_poll_ms         INTEGER NOT NULL,
    unreachable_since_ms INTEGER,
    outcome              TEXT,
    code                 TEXT,
    decline_code         TEXT,
    message              TEXT,
    reported             INTEGER NOT NULL DEFAULT 0,
    silent               INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass
class Payment:
    """One row of `payments`; `state` is one of the STATE_* words of pos.py.

    `reported`: its payment.ended was written (in this process's life; on a
    restart, readerlab's `session.reported` says what it recorded). `silent`: its
    payment.collect was answered with an indefinite error, for which readerlab
    records an unknown outcome itself: it must never get a payment.ended.
    """

    name: str
    reader: str
    amount: int
    currency: str
    attempt: int
    intent: str | None
    state: str
    cancel_requested: int
    next_poll_ms: int
    unreachable_since_ms: int | None
    outcome: str | None
    code: str | None
    decline_code: str | None
    message: str | None
    reported: int
    silent: int


_PAYMENT_COLUMNS = ", ".join(field.name for field in fields(Payment))


class Store:
    def __init__(self, data_dir: Path, *, fresh: bool) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_NAME
        if fresh:
            for stale in data_dir.glob(DB_NAME + "*"):
                stale.unlink()
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    # Settings and idempotency keys

    def setting(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def set_setting(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (name, value))

    def idempotency_key(self, purpose: str) -> str:
        """The key for this purpose: the stored one, or a new one stored before it is used."""
        self._db.execute(
            "INSERT OR IGNORE INTO idempotency_keys VALUES (?, ?)",
            (purpose, f"readerlab-odoo-{uuid.uuid4()}"),
        )
        row = self._db.execute(
            "SELECT key FROM idempotency_keys WHERE purpose = ?", (purpose,)
        ).fetchone()
        return str(row[0])

    # Readers

    def readers(self) -> dict[str, str]:
        """serial → the backend's reader id."""
        return dict(self._db.execute("SELECT serial, reader_id FROM readers"))

    def add_reader(self, serial: str, reader_id: str, model: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO readers VALUES (?, ?, ?)", (serial, reader_id, model)
        )

    # Payments

    def add_payment(
        self, name: str, reader: str, amount: int, currency: str, state: str, next_poll_ms: int
    ) -> Payment:
        self._db.execute(
            "INSERT INTO payments (name, reader, amount, currency, state, next_poll_ms)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, reader, amount, currency, state, next_poll_ms),
        )
        payment = self.payment(name)
        assert payment is not None
        return payment

    def delete_payment(self, name: str) -> None:
        self._db.execute("DELETE FROM payments WHERE name = ?", (name,))

    def payment(self, name: str) -> Payment | None:
        rows = self._payments("WHERE name = ?", (name,))
        return rows[0] if rows else None

    def payments(self) -> list[Payment]:
        """Every payment, oldest first."""
        return self._payments("ORDER BY rowid", ())

    def unreported(self) -> list[Payment]:
        """Payments whose payment.ended has not been recorded as sent, oldest first."""
        return self._payments("WHERE reported = 0 ORDER BY rowid", ())

    def update(self, payment: Payment, **changes: Any) -> None:
        """Write `changes` to the row in one statement, and to `payment`."""
        assignments = ", ".join(f"{column} = ?" for column in changes)
        self._db.execute(
            f"UPDATE payments SET {assignments} WHERE name = ?",
            (*changes.values(), payment.name),
        )
        for column, value in changes.items():
            setattr(payment, column, value)

    def _payments(self, clause: str, args: tuple[Any, ...]) -> list[Payment]:
        cursor = self._db.execute(f"SELECT {_PAYMENT_COLUMNS} FROM payments {clause}", args)
        return [Payment(*row) for row in cursor]
