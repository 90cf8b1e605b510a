"""The control server's reading side over real sockets: the live stream /ws, query and raw GETs, the page.

The WebSocket client is wsproto's client mode on a plain socket: an
implementation of the handshake and the framing independent of the server's
(the server uses wsproto's low-level ``Connection`` after a handshake it
writes itself; the client checks ``Sec-WebSocket-Accept`` on its own). The
preview is a fake with PreviewRenderer's interface (``watch``,
``wait_jpeg``); the browser test runs the real one.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from domectl import control
from domectl.control import BadRequest, ControlServer, Refused, parse_query

TOKEN = "t" * 24
# Generous bounds for a 2-core machine running the suite: the server's own constants are 5/s.
WAIT_S = 5.0


class FakePreview:
    """PreviewRenderer's interface: watch() counts watchers, wait_jpeg() hands out newer images."""

    def __init__(self):
        self._cond = threading.Condition()
        self.watchers = 0
        self.watched_ever = 0
        self.seq = 0
        self.jpeg = b""

    @contextlib.contextmanager
    def watch(self):
        with self._cond:
            self.watchers += 1
            self.watched_ever += 1
        try:
            yield self
        finally:
            with self._cond:
                self.watchers -= 1

    def publish(self, jpeg: bytes) -> int:
        with self._cond:
            self.seq += 1
            self.jpeg = jpeg
            self._cond.notify_all()
            return self.seq

    def wait_jpeg(self, after_seq: int, timeout_s: float):
        with self._cond:
            if self._cond.wait_for(lambda: self.seq > after_seq, timeout=timeout_s):
                return self.seq, self.jpeg
            return None


class Live:
    """The /api/state stand-in: counts calls, so every message is a new state."""

    def __init__(self):
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {"frame": self.calls, "fps": 60.0, "render_ms": float("nan")}


@pytest.fixture
def preview() -> FakePreview:
    return FakePreview()


def make_server(preview: FakePreview) -> ControlServer:
    def search(query: dict[str, str]) -> dict:
        if "q" not in query:
            raise Refused("give q=TEXT")
        if query.get("limit", "5") == "x":
            raise ValueError("limit must be a whole number")
        return {"query": query}

    def echo(body: dict) -> dict:
        if "bad" in body:
            raise BadRequest("echo: bad must not be given")
        if "refuse" in body:
            raise Refused("echo: refused in this state")
        return body

    frames: list[bytes] = []
    srv = ControlServer(
        "127.0.0.1", 0, TOKEN, gets={"/api/state": lambda: {"ok": True}}, posts={"/api/echo": echo},
        queries={"/api/search": search},
        raw_gets={"/api/frame": lambda: ("application/octet-stream", frames[-1]) if frames else None,
                  "/api/preview.jpg": _refuse("no console watches: the preview is not drawn")},
        live=Live(), preview=preview).start()
    srv.frames = frames
    return srv


@pytest.fixture
def server(preview):
    """A fresh server for each test that counts streams or watches."""
    srv = make_server(preview)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shared():
    """One server for the request/response tests (a stop costs serve_forever's 0.5 s poll)."""
    srv = make_server(FakePreview())
    yield srv
    srv.stop()


def _refuse(message: str):
    def get():
        raise Refused(message)
    return get


class WsClient:
    """A WebSocket client on a real socket (wsproto client mode)."""

    def __init__(self, port: int, target: str = "/ws"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{port}", target=target)))
        self.pending: list = []
        self.accepted = self.rejected = None
        self.reject_body = b""
        body_done = False
        while self.accepted is None and not body_done:
            events = self._read()
            for event in events:
                if isinstance(event, AcceptConnection):
                    self.accepted = event
                elif isinstance(event, RejectConnection):
                    self.rejected = event
                    body_done = not event.has_body
                elif isinstance(event, RejectData):
                    self.reject_body += event.data
                    body_done = event.body_finished
                else:
                    self.pending.append(event)
            if not events:
                break

    def _read(self) -> list:
        data = self.sock.recv(65536)
        self.ws.receive_data(data or None)
        return list(self.ws.events())

    def next_events(self, until, timeout_s: float = WAIT_S) -> list:
        """Events (pings answered) until ``until(events)`` holds; AssertionError after timeout_s."""
        seen, self.pending = self.pending, []
        end = time.monotonic() + timeout_s
        while not until(seen):
            if time.monotonic() > end:
                raise AssertionError(f"timed out; got {[type(e).__name__ for e in seen]}")
            try:
                events = self._read()
            except TimeoutError:
                continue
            for event in events:
                if isinstance(event, Ping):
                    self.sock.sendall(self.ws.send(event.response()))
            seen += events
            if any(isinstance(e, CloseConnection) for e in events) and not until(seen):
                raise AssertionError(f"the server closed the stream: {events}")
        return seen

    def send(self, event) -> None:
        self.sock.sendall(self.ws.send(event))

    def close(self) -> None:
        self.sock.close()


def count(events, kind) -> int:
    return sum(isinstance(e, kind) for e in events)


def states(events) -> list[dict]:
    return [json.loads(e.data) for e in events if isinstance(e, TextMessage)]


def wait_for(predicate, what: str, timeout_s: float = WAIT_S) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def http_get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def upgrade_headers(**changes) -> dict:
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    return headers


# ---------------------------------------------------------------------------- the stream


def test_the_stream_sends_the_state_five_times_a_second(server):
    client = WsClient(server.port, "/ws?preview=0")
    try:
        assert client.accepted is not None
        start = time.monotonic()
        events = client.next_events(lambda seen: count(seen, TextMessage) >= 6)
        elapsed = time.monotonic() - start
        got = states(events)
        assert all(m["type"] == "state" for m in got)
        frames = [m["state"]["frame"] for m in got]
        assert frames == sorted(frames) and len(set(frames)) == len(frames)     # a fresh state each time
        # Five a second (docs/console.md): the first at once, so 6 take 1 s (later on a busy machine, never sooner).
        assert 0.9 < elapsed < 2.0
        assert got[0]["state"]["render_ms"] is None            # NaN is not JSON: a browser could not parse it
        assert count(events, BytesMessage) == 0                # preview=0
        assert server.ws_clients == {"open": 1, "total": 1}
    finally:
        client.close()


def test_the_preview_streams_each_new_jpeg_while_watched(server, preview):
    client = WsClient(server.port, "/ws")                      # preview=1 is the default
    try:
        wait_for(lambda: preview.watchers == 1, "the stream to watch the preview")
        sent = []

        def publish():
            for i in range(5):
                sent.append(b"\xff\xd8 jpeg %d \xff\xd9" % i)
                preview.publish(sent[-1])
                time.sleep(0.05)

        publisher = threading.Thread(target=publish)
        publisher.start()
        events = client.next_events(lambda seen: any(isinstance(e, BytesMessage) and e.data == sent[-1]
                                                     for e in seen) if len(sent) == 5 else False)
        publisher.join()
        images = [bytes(e.data) for e in events if isinstance(e, BytesMessage)]
        assert images and set(images) <= set(sent)
        assert images == sorted(images, key=sent.index)        # in order, none twice
        assert len(set(images)) == len(images)
        assert count(events, TextMessage) >= 1                 # the state goes on between images
    finally:
        client.close()
    wait_for(lambda: preview.watchers == 0, "the watch to end with the stream")
    wait_for(lambda: server.ws_clients["open"] == 0, "the stream to be counted closed")


def test_preview_0_never_watches_the_preview(server, preview):
    client = WsClient(server.port, "/ws?preview=0")
    try:
        client.next_events(lambda seen: count(seen, TextMessage) >= 2)
        assert preview.watched_ever == 0
    finally:
        client.close()


def test_a_clean_close_is_answered_and_counted(server, preview):
    client = WsClient(server.port)
    client.next_events(lambda seen: count(seen, TextMessage) >= 1)
    client.send(CloseConnection(code=1000, reason="bye"))
    events = client.next_events(lambda seen: count(seen, CloseConnection) >= 1)
    close = next(e for e in events if isinstance(e, CloseConnection))
    assert close.code == 1000
    assert client.sock.recv(1) == b""                          # then the server drops the socket
    client.close()
    wait_for(lambda: server.ws_clients == {"open": 0, "total": 1}, "the stream to be counted closed")
    wait_for(lambda: preview.watchers == 0, "the preview watch to end")


def test_a_client_that_vanishes_ends_its_stream_and_the_server_carries_on(server, preview):
    clients = [WsClient(server.port) for _ in range(3)]
    wait_for(lambda: server.ws_clients["open"] == 3 and preview.watchers == 3, "three watching streams")
    for client in clients:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()                                         # RST, no close frame
    wait_for(lambda: server.ws_clients == {"open": 0, "total": 3}, "the streams to end")
    wait_for(lambda: preview.watchers == 0, "the preview watches to end")
    assert http_get(server.port, "/api/state")[0] == 200
    client = WsClient(server.port)
    assert client.accepted is not None
    client.close()


def test_pings_are_answered_and_client_messages_ignored(server):
    client = WsClient(server.port, "/ws?preview=0")
    try:
        client.send(TextMessage("play the show"))
        client.send(BytesMessage(b"\x00" * 70_000))            # several reads' worth: still ignored
        client.send(Ping(b"are you there"))
        events = client.next_events(lambda seen: count(seen, Pong) >= 1)
        assert next(e for e in events if isinstance(e, Pong)).payload == b"are you there"
        client.next_events(lambda seen: count(seen, TextMessage) >= 2)   # the stream goes on
    finally:
        client.close()


def test_a_client_breaking_the_protocol_is_closed_with_1002(server):
    client = WsClient(server.port, "/ws?preview=0")
    try:
        # An unmasked frame: clients must mask (RFC 6455 5.1); a server-side encoder does not.
        client.sock.sendall(Connection(ConnectionType.SERVER).send(TextMessage("unmasked")))
        events = client.next_events(lambda seen: count(seen, CloseConnection) >= 1)
        assert next(e for e in events if isinstance(e, CloseConnection)).code == 1002
    finally:
        client.close()
    wait_for(lambda: server.ws_clients["open"] == 0, "the stream to end")
    assert http_get(server.port, "/api/state")[0] == 200


def test_garbage_after_the_handshake_does_not_hurt_the_server(server):
    for junk in (b"\x00" * 10, b"GET / HTTP/1.1\r\n\r\n", bytes(range(256)) * 40):
        client = WsClient(server.port, "/ws?preview=0")
        client.sock.sendall(junk)
        with contextlib.suppress(AssertionError, OSError):
            client.next_events(lambda seen: count(seen, CloseConnection) >= 1, timeout_s=2)
        client.close()
    wait_for(lambda: server.ws_clients["open"] == 0, "the streams to end")
    assert http_get(server.port, "/api/state")[0] == 200


def test_a_silent_client_is_dropped_after_the_liveness_limit(server, monkeypatch):
    monkeypatch.setattr(control, "WS_LIVENESS_S", 0.5)
    monkeypatch.setattr(control, "WS_PING_INTERVAL_S", 60.0)  # no ping to answer: the client says nothing
    client = WsClient(server.port, "/ws?preview=0")
    try:
        start = time.monotonic()
        events = client.next_events(lambda seen: count(seen, CloseConnection) >= 1)
        close = next(e for e in events if isinstance(e, CloseConnection))
        assert close.code == 1008 and close.reason == "silent"
        assert time.monotonic() - start < 0.5 + 1.5
    finally:
        client.close()


def test_the_server_pings_and_a_client_answering_stays(server, monkeypatch):
    monkeypatch.setattr(control, "WS_LIVENESS_S", 0.6)
    monkeypatch.setattr(control, "WS_PING_INTERVAL_S", 0.2)
    client = WsClient(server.port, "/ws?preview=0")
    try:
        # next_events answers pings; past the liveness limit the stream is still open.
        events = client.next_events(lambda seen: count(seen, Ping) >= 6, timeout_s=4)
        assert count(events, CloseConnection) == 0
    finally:
        client.close()


def test_a_stalled_client_is_dropped_and_does_not_slow_the_others(server, preview, monkeypatch):
    monkeypatch.setattr(control, "WS_SEND_TIMEOUT_S", 0.5)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", server.port))
    stalled.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    # ... and never reads again. A big image every 20 ms fills its socket buffers.
    stop = threading.Event()

    def publish():
        while not stop.is_set():
            preview.publish(b"\xff\xd8" + b"\x00" * 200_000)
            time.sleep(0.02)

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        healthy = WsClient(server.port, "/ws?preview=0")
        start = time.monotonic()
        healthy.next_events(lambda seen: count(seen, TextMessage) >= 11)
        assert time.monotonic() - start < 10 * control.WS_STATE_INTERVAL_S * 2
        wait_for(lambda: server.ws_clients["open"] == 1, "the stalled stream to be dropped")
        healthy.close()
    finally:
        stop.set()
        publisher.join()
        stalled.close()
    wait_for(lambda: preview.watchers == 0, "the stalled stream's watch to end")


def test_past_the_limit_a_new_stream_is_refused_with_503(server, monkeypatch):
    monkeypatch.setattr(control, "WS_MAX_CLIENTS", 2)
    first, second = WsClient(server.port, "/ws?preview=0"), WsClient(server.port, "/ws?preview=0")
    try:
        third = WsClient(server.port, "/ws?preview=0")
        assert third.rejected is not None and third.rejected.status_code == 503
        assert "2 live streams are open already" in json.loads(third.reject_body)["error"]
        third.close()
    finally:
        first.close()
        second.close()
    wait_for(lambda: server.ws_clients["open"] == 0, "the streams to end")
    again = WsClient(server.port, "/ws?preview=0")
    assert again.accepted is not None
    again.close()


def test_stopping_the_server_closes_streams_with_1001(preview):
    srv = ControlServer("127.0.0.1", 0, TOKEN, gets={}, posts={}, live=Live(), preview=preview).start()
    client = WsClient(srv.port)
    client.next_events(lambda seen: count(seen, TextMessage) >= 1)
    closed = threading.Event()
    threading.Thread(target=lambda: (srv.stop(), closed.set())).start()
    events = client.next_events(lambda seen: count(seen, CloseConnection) >= 1)
    assert next(e for e in events if isinstance(e, CloseConnection)).code == 1001
    client.send(CloseConnection(code=1001))
    assert closed.wait(WAIT_S)
    assert srv.ws_clients["open"] == 0 and preview.watchers == 0
    client.close()


def test_a_failing_state_reader_leaves_the_preview_running(preview):
    def broken():
        raise RuntimeError("bug")

    srv = ControlServer("127.0.0.1", 0, TOKEN, gets={}, posts={}, live=broken, preview=preview).start()
    try:
        client = WsClient(srv.port)
        wait_for(lambda: preview.watchers == 1, "the watch")
        preview.publish(b"\xff\xd8 one \xff\xd9")
        events = client.next_events(lambda seen: count(seen, BytesMessage) >= 1)
        assert count(events, TextMessage) == 0 and count(events, CloseConnection) == 0
        client.close()
    finally:
        srv.stop()


def test_a_preview_that_raises_ends_only_its_stream(server, preview, monkeypatch):
    def broken(after_seq, timeout_s):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(preview, "wait_jpeg", broken)
    client = WsClient(server.port)
    wait_for(lambda: server.ws_clients["open"] == 0, "the broken stream to end")
    client.close()
    assert http_get(server.port, "/api/state")[0] == 200


# ---------------------------------------------------------------------------- bad upgrades


@pytest.mark.parametrize("changes, status, message", [
    ({"Upgrade": None}, 400, "/ws is a WebSocket: open it with one"),
    ({"Connection": "keep-alive"}, 400, "'Connection: Upgrade'"),
    ({"Sec_WebSocket_Key": None}, 400, "Sec-WebSocket-Key missing"),
    ({"Sec_WebSocket_Key": "c2hvcnQ="}, 400, "is not 16 bytes in base64"),
    ({"Sec_WebSocket_Key": "not base64 at all!!!"}, 400, "is not 16 bytes in base64"),
    ({"Sec_WebSocket_Version": "8"}, 400, "Sec-WebSocket-Version 8; this server speaks 13"),
    ({"Sec_WebSocket_Version": None}, 400, "Sec-WebSocket-Version missing"),
])
def test_a_bad_upgrade_is_refused_with_400_saying_why(shared, changes, status, message):
    got, headers, body = http_get(shared.port, "/ws", upgrade_headers(**changes))
    assert got == status
    assert message in json.loads(body)["error"]
    if "Sec_WebSocket_Version" in changes:
        assert headers["Sec-WebSocket-Version"] == "13"
    assert shared.ws_clients["open"] == 0


@pytest.mark.parametrize("target, message", [
    ("/ws?preview=yes", "give preview=1 (JPEGs, the default) or preview=0"),
    ("/ws?preview=1&preview=0", "'preview' is given twice"),
    ("/ws?fps=60", "unknown query field(s) fps; /ws takes preview=0|1"),
    ("/ws?preview", "is not name=value pairs"),
])
def test_a_bad_stream_query_is_refused_with_400(shared, target, message):
    got, _, body = http_get(shared.port, target, upgrade_headers())
    assert got == 400
    assert message in json.loads(body)["error"]


def test_without_a_live_source_there_is_no_stream():
    srv = ControlServer("127.0.0.1", 0, TOKEN, gets={}, posts={}).start()
    try:
        got, _, body = http_get(srv.port, "/ws", upgrade_headers())
        assert got == 404 and "no live stream" in json.loads(body)["error"]
    finally:
        srv.stop()


# ---------------------------------------------------------------------------- query and raw GETs


def test_a_query_handler_gets_the_decoded_fields(shared):
    got, _, body = http_get(shared.port, "/api/search?q=%C3%A9toile+polaire&limit=3")
    assert got == 200
    assert json.loads(body) == {"query": {"q": "étoile polaire", "limit": "3"}}


@pytest.mark.parametrize("target, message", [
    ("/api/search", "/api/search: give q=TEXT"),                              # Refused
    ("/api/search?q=a&limit=x", "/api/search: limit must be a whole number"),  # ValueError
    ("/api/search?q=a&q=b", "'q' is given twice in the query; give it once"),
    ("/api/search?q=%ff", "not percent-encoded UTF-8"),
    ("/api/search?q", "is not name=value pairs joined by '&'"),
    ("/api/search?" + "&".join(f"f{i}=1" for i in range(40)), "more than 16 query fields"),
])
def test_a_bad_query_is_a_400_naming_the_problem(shared, target, message):
    got, _, body = http_get(shared.port, target)
    assert got == 400
    assert message in json.loads(body)["error"]


def test_parse_query_is_strict():
    assert parse_query("") == {}
    assert parse_query("a=1&b=&c=x%20y+z") == {"a": "1", "b": "", "c": "x y z"}
    with pytest.raises(ValueError, match="given twice"):
        parse_query("a=1&a=1")


def test_a_raw_get_sends_bytes_and_404s_with_a_reason_until_there_are_some(shared):
    got, _, body = http_get(shared.port, "/api/frame")
    assert got == 404
    assert "/api/frame: nothing yet" in json.loads(body)["error"]
    got, _, body = http_get(shared.port, "/api/preview.jpg")
    assert got == 404
    assert json.loads(body)["error"] == "/api/preview.jpg: no console watches: the preview is not drawn"
    shared.frames.append(b"\x00\x01frame")
    got, headers, body = http_get(shared.port, "/api/frame")
    assert (got, headers["Content-Type"], body) == (200, "application/octet-stream", b"\x00\x01frame")
    assert headers["Cache-Control"] == "no-store"


def test_an_unknown_get_lists_what_can_be_read(shared):
    got, _, body = http_get(shared.port, "/api/nothing")
    assert got == 404
    error = json.loads(body)["error"]
    assert error.startswith("no /api/nothing; try ")
    for path in ("/api/state", "/api/search", "/api/frame", "/ws"):
        assert path in error


# ---------------------------------------------------------------------------- the page


@pytest.mark.parametrize("path, content_type, marker", [
    ("/", "text/html; charset=utf-8", b"<title>domectl console</title>"),
    ("/index.html", "text/html; charset=utf-8", b"<title>domectl console</title>"),
    ("/console.css", "text/css; charset=utf-8", b"--bg:"),
    ("/console.js", "text/javascript; charset=utf-8", b'"use strict";'),
])
def test_the_console_files_are_served(shared, path, content_type, marker):
    got, headers, body = http_get(shared.port, path)
    assert got == 200
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert marker in body


@pytest.mark.parametrize("path", ["/console", "/control.py", "/console/../control.py", "/%2e%2e/control.py",
                                  "/console/index.html", "/favicon.ico", "/console.js.map"])
def test_only_the_known_console_files_are_served(shared, path):
    got, _, body = http_get(shared.port, path)
    assert got == 404
    assert json.loads(body)["error"].startswith("no ")


def test_the_page_loads_nothing_from_outside():
    """The hall has no internet: no URL with a scheme or // in the page, its style or its script."""
    import re

    for name in ("index.html", "console.css", "console.js"):
        text = (control.CONSOLE_DIR / name).read_text()
        assert re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE) == [], name


def test_an_idle_connection_is_closed_after_the_idle_timeout(preview, monkeypatch):
    monkeypatch.setattr(control, "HTTP_IDLE_TIMEOUT_S", 0.3)
    srv = ControlServer("127.0.0.1", 0, TOKEN, gets={}, posts={}).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT_S) as sock:
            sock.sendall(b"GET /api/sta")                     # half a request, then nothing
            start = time.monotonic()
            assert sock.recv(1024) == b""
            assert time.monotonic() - start < 0.3 + 2.0
    finally:
        srv.stop()


def test_posts_need_the_token_and_a_refused_one_leaves_the_connection_usable(shared):
    """A browser reuses its connection: a request refused before its body was read must not
    leave that body to be read as the next request."""
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=WAIT_S)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        for path, headers, status in [("/api/echo", {}, 401), ("/api/echo", {"Authorization": "Bearer nope"}, 403),
                                      ("/api/nothing", auth, 404), ("/api/echo", auth, 200)]:
            conn.request("POST", path, body=b'{"a": 1}', headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            assert response.status == status, answer
        assert answer == {"a": 1}
    finally:
        conn.close()


@pytest.mark.parametrize("body, status, message", [
    (b'{"bad": 1}', 400, "echo: bad must not be given"),
    (b'{"refuse": 1}', 409, "echo: refused in this state"),
])
def test_a_handler_says_bad_request_400_or_refused_409(shared, body, status, message):
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=WAIT_S)
    try:
        conn.request("POST", "/api/echo", body=body, headers={"Authorization": f"Bearer {TOKEN}"})
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())["error"]) == (status, message)
    finally:
        conn.close()
