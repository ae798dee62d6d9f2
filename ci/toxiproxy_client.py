#!/usr/bin/env python3
"""Drive `readerlab proxy` with the real Toxiproxy client, toxiproxy-python 0.1.1.

Every API call goes through that library, unchanged, so this checks that
our server answers what a Toxiproxy client sends. The sockets the script
opens itself (an echo upstream, and the clients measuring round trips) are
plain Python.

Usage: toxiproxy_client.py [http://HOST:PORT]   (or TOXIPROXY_URL; default
http://127.0.0.1:8474). Exits non-zero on the first failed check.
"""

import os
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

import toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

PROXY_NAME = "readerlab_ci_echo"
LATENCY_MS = 200
ROUND_TRIPS = 9


def api_address():
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "TOXIPROXY_URL", "http://127.0.0.1:8474")
    if "//" not in url:
        url = "http://" + url
    parsed = urlparse(url)
    return parsed.hostname, parsed.port or 8474


def start_echo_server():
    """A TCP echo server on a free loopback port, in daemon threads."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def echo(conn):
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def accept():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()


def connect(address, timeout=10.0):
    sock = socket.create_connection(address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(sock, message=b"ping"):
    started = time.perf_counter()
    sock.sendall(message)
    received = b""
    while len(received) < len(message):
        chunk = sock.recv(len(message) - len(received))
        if not chunk:
            raise AssertionError("the proxy closed the connection mid round trip")
        received += chunk
    assert received == message, (received, message)
    return (time.perf_counter() - started) * 1000.0


def median_round_trip_ms(address):
    with connect(address) as sock:
        return statistics.median(round_trip(sock) for _ in range(ROUND_TRIPS))


def refused(address):
    try:
        with connect(address, timeout=2.0):
            return False
    except ConnectionRefusedError:
        return True


def listen_address(proxy):
    host, port = proxy.listen.rsplit(":", 1)
    return host, int(port)


def main():
    host, port = api_address()
    server = toxiproxy.Toxiproxy()
    server.update_api_consumer(host, port)
    assert server.running(), "nothing listens on %s:%s" % (host, port)
    print("server version: %s" % server.version().decode().strip())

    existing = server.get_proxy(PROXY_NAME)
    if existing is not None:
        server.destroy(existing)

    upstream = start_echo_server()
    proxy = server.create(upstream="%s:%d" % upstream, name=PROXY_NAME)
    address = listen_address(proxy)
    assert address[1] != 0, "the proxy's listen address is still port 0"
    assert proxy.enabled is True
    assert PROXY_NAME in server.proxies()
    print("proxy %s listens on %s:%d for upstream %s:%d" % ((PROXY_NAME,) + address + upstream))

    try:
        server.create(upstream="%s:%d" % upstream, name=PROXY_NAME)
        raise AssertionError("a second proxy of the same name was created")
    except ProxyExists:
        pass

    baseline = median_round_trip_ms(address)
    proxy.add_toxic(type="latency", attributes={"latency": LATENCY_MS, "jitter": 0})
    toxics = proxy.toxics()
    assert list(toxics) == ["latency_downstream"], toxics
    assert toxics["latency_downstream"].attributes["latency"] == LATENCY_MS
    with_latency = median_round_trip_ms(address)
    added = with_latency - baseline
    print("median round trip without toxic: %.1f ms" % baseline)
    print("median round trip with %d ms latency: %.1f ms" % (LATENCY_MS, with_latency))
    print("added latency: %.1f ms" % added)
    assert added >= LATENCY_MS - 20, "added latency %.1f ms < %d ms" % (added, LATENCY_MS - 20)

    try:
        proxy.add_toxic(type="latency", attributes={"latency": 1})
        raise AssertionError("a second toxic of the same name was added")
    except ProxyExists:
        pass
    try:
        proxy.add_toxic(type="teleport", name="nonsense")
        raise AssertionError("a toxic of an unknown type was added")
    except InvalidToxic:
        pass

    proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}, proxy.toxics()
    print("median round trip after removing the toxic: %.1f ms" % median_round_trip_ms(address))

    live = connect(address)
    round_trip(live)
    proxy.disable()
    assert server.get_proxy(PROXY_NAME).enabled is False
    assert refused(address), "a disabled proxy accepted a connection"
    live.settimeout(5.0)
    try:
        assert live.recv(1) == b"", "a live connection survived disabling the proxy"
    except ConnectionResetError:
        pass
    live.close()
    print("disabled: connections refused, the live one closed")

    proxy.enable()
    assert server.get_proxy(PROXY_NAME).enabled is True
    with connect(address) as again:
        round_trip(again, b"back up")
    print("enabled again on the same address: round trips succeed")

    with proxy.down():
        assert refused(address), "proxy.down() left the proxy accepting"
    with connect(address) as again:
        round_trip(again, b"after down()")

    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    assert server.reset() is True
    assert proxy.toxics() == {}, "reset left toxics behind"

    assert proxy.destroy() is True
    assert server.get_proxy(PROXY_NAME) is None
    assert refused(address), "a deleted proxy accepted a connection"
    try:
        proxy.toxics()
        raise AssertionError("a deleted proxy still has toxics")
    except NotFound:
        pass
    print("deleted: connections refused")
    print("toxiproxy-python checks passed")


if __name__ == "__main__":
    main()
