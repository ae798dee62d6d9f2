"""JSON-RPC 2.0 over NDJSON, as driver protocol 1 frames it.

One message per line on stdin and stdout; stdout carries nothing else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
OPERATION_FAILED = -32000
BUSY = -32001

Params = dict[str, Any]
RequestId = int | str | None


class RpcError(Exception):
    """An error answer. `definite` says the operation did not happen."""

    def __init__(
        self, code: int, message: str, *, definite: bool, sdk_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.definite = definite
        self.sdk_code = sdk_code

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"definite": self.definite}
        if self.sdk_code is not None:
            data["sdk_code"] = self.sdk_code
        return {"code": self.code, "message": self.message, "data": data}


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message, definite=True)


def refused(message: str, sdk_code: str | None = None) -> RpcError:
    """A POS rule or the backend refused: nothing happened."""
    return RpcError(OPERATION_FAILED, message, definite=True, sdk_code=sdk_code)


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: Params


@dataclass(frozen=True)
class Ignored:
    """A line that needs no answer (a response or notification from the harness)."""

    reason: str


class BadMessage(Exception):
    """A line that is no valid request: answered with this error under `request_id`."""

    def __init__(self, request_id: RequestId, error: RpcError) -> None:
        super().__init__(error.message)
        self.request_id = request_id
        self.error = error


def parse_line(line: bytes) -> Request | Ignored:
    """Read one line as a JSON-RPC request, or raise BadMessage."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadMessage(None, RpcError(PARSE_ERROR, f"parse error: {err}", definite=True)) from err
    if not isinstance(message, dict):
        raise BadMessage(None, _invalid_request("a message is one JSON object (no batches)"))
    if "method" not in message and ("result" in message or "error" in message):
        return Ignored("a response: this adapter sends no requests")
    is_notification = "id" not in message
    request_id = message.get("id")
    if not is_notification and not _valid_id(request_id):
        raise BadMessage(None, _invalid_request("id must be an integer or a string"))
    method = message.get("method")
    if message.get("jsonrpc") != "2.0" or not isinstance(method, str):
        raise BadMessage(request_id, _invalid_request('it needs "jsonrpc": "2.0" and a method'))
    if is_notification:
        return Ignored(f"a notification ({method})")
    params = message.get("params", {})
    if not isinstance(params, dict):
        raise BadMessage(request_id, invalid_params("params must be an object"))
    return Request(request_id, method, params)


def _valid_id(request_id: Any) -> bool:
    return isinstance(request_id, (int, str)) and not isinstance(request_id, bool)


def _invalid_request(message: str) -> RpcError:
    return RpcError(INVALID_REQUEST, f"invalid request: {message}", definite=True)


class Channel:
    """Writes messages on the protocol's stdout, each in a single write(2)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def result(self, request_id: RequestId, result: Any) -> None:
        self._send({"jsonrpc": "2.0", "id": request_id, "result": result})

    def error(self, request_id: RequestId, error: RpcError) -> None:
        self._send({"jsonrpc": "2.0", "id": request_id, "error": error.to_json()})

    def notify(self, method: str, params: Params) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def _send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        while data:
            written = os.write(self._fd, data)
            data = data[written:]


# Parameter checking: each returns the value or raises -32602.


def required(params: Params, name: str, kind: type) -> Any:
    value = params.get(name)
    if value is None:
        raise invalid_params(f"missing {name}")
    return _typed(name, value, kind)


def optional(params: Params, name: str, kind: type, default: Any) -> Any:
    value = params.get(name)
    return default if value is None else _typed(name, value, kind)


def _typed(name: str, value: Any, kind: type) -> Any:
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise invalid_params(f"{name} must be a JSON {_JSON_NAMES.get(kind, kind.__name__)}")
    return value


_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "integer", bool: "boolean"}
