"""The master's HTTP control API: what `domectl poll`, `domectl show` and the operator's console talk to.

A small JSON-over-HTTP server in threads of the master (stdlib
``ThreadingHTTPServer``). The handlers (domectl/services.py) run in those
threads while the frame loop runs: each must be safe against it (the vote
desk and the show run take their own locks; a show being stopped is flagged
closed so a frame drawn with it meanwhile leaves the desk alone). Reading is
open, controlling needs the hall's control token. The routes (docs/console.md
is the full contract):

    GET  /                   the console page (/console.css, /console.js beside it)
    GET  /ws[?preview=0|1]   WebSocket (RFC 6455): {"type": "state", "state": ...} 5 times a second,
                             and, with preview=1 (default), the live preview's JPEGs as binary messages
    GET  <gets>              JSON: /api/state, /api/poll, /api/show, /api/places, /api/shows, ...
    GET  <queries>?k=v       JSON from the query string: /api/search?q=TEXT&limit=N
    GET  <raw_gets>          bytes: /api/frame (a FrameState), /api/preview.jpg; 404 until there is one
    POST <posts>             a JSON object: /api/poll/*, /api/show/*, /api/time/*, /api/view, ...  (token)

Control requests carry ``Authorization: Bearer <token>``. The token is the
file ``control.token`` in the hall's key directory when there is one (a
hall's console tablets are given it once), else a fresh one the master
writes, readable by its user only, into its run directory, where `domectl
poll` on the same machine finds it.

Every error is a 4xx with ``{"error": "..."}`` naming what was wrong: a
missing or wrong token (401/403), an unknown path or nothing there yet (404),
a body that is not a JSON object or a query that is not what the endpoint
takes (400), a body too large (413), a refused command (409), too many live
streams (503). Nothing a client sends can stop the server or the master: a
WebSocket client gets its own thread, its sends time out, a silent one is
dropped after WS_LIVENESS_S, and whatever it sends but pings and the close
is ignored.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import secrets
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from domectl.atomic import atomic_write_bytes
from domectl.errors import DomectlError

log = logging.getLogger("domectl.control")

TOKEN_FILE = "control.token"
# A control command is a few hundred bytes; a body 64x larger is a mistake or an attack.
MAX_BODY_BYTES = 64 * 1024
# Seconds a client waits for the master before giving up (it answers in well under one).
CLIENT_TIMEOUT_S = 5.0


class ControlError(DomectlError):
    """A command the master refused (HTTP 4xx), or no master to talk to."""


class Refused(Exception):
    """Raised by a handler: the request is understood but refused (-> 409 with the message)."""


class BadRequest(ValueError):
    """Raised by a handler: the body or query is not what the endpoint takes (-> 400; the message
    names the field). Other ValueErrors from a POST handler are refusals (409)."""


Handler = Callable[[dict], dict]


def control_token(keys_dir: Path | None, run_dir: Path) -> str:
    """The hall's control token: ``keys_dir/control.token`` if present, else a fresh one
    written to ``run_dir/control.token`` (mode 0600) for clients on this machine."""
    if keys_dir is not None and (keys_dir / TOKEN_FILE).is_file():
        token = (keys_dir / TOKEN_FILE).read_text().strip()
        if len(token) < 16:
            raise ControlError(f"{keys_dir / TOKEN_FILE}: a control token needs at least 16 characters")
        return token
    token = secrets.token_urlsafe(24)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / TOKEN_FILE, (token + "\n").encode(), mode=0o600, durable=False)
    return token


def read_token(keys_dir: Path | None, run_dir: Path) -> str | None:
    """The token a client on this machine uses (hall's file first, then the master's run dir)."""
    for d in (keys_dir, run_dir):
        if d is not None and (d / TOKEN_FILE).is_file():
            return (d / TOKEN_FILE).read_text().strip()
    return None


def client_for(args, *, control: bool):
    """(hall, ControlClient) of the running master for a command's ``--config``, ``--keys`` and
    ``--token``; ``control``: the command changes something, so a token is needed (ControlError
    saying where it is found when there is none)."""
    from domectl.config import load_hall
    from domectl.keys import default_keys_dir
    from domectl.status import run_dir

    hall = load_hall(args.config)
    token = args.token or read_token(args.keys or default_keys_dir(hall.root), run_dir(hall.name))
    if control and token is None:
        raise ControlError(f"no control token: give --token, or run this on the master's computer "
                           f"(it writes {run_dir(hall.name) / TOKEN_FILE})")
    return hall, ControlClient(hall.master.host, hall.master.http_port, token)


# Keep-alive HTTP connections (a browser keeps a few) idle longer than this are closed, so idle
# or half-sent requests cannot pile up threads; a browser reopens them when it needs them.
HTTP_IDLE_TIMEOUT_S = 30.0
# The console's files, served at / (index.html), /console.css and /console.js; nothing else.
CONSOLE_DIR = Path(__file__).resolve().parent / "console"
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/console.css": ("console.css", "text/css; charset=utf-8"),
    "/console.js": ("console.js", "text/javascript; charset=utf-8"),
}
# The page may load only itself: no CDN can be reached from a hall, and nothing may frame it
# (a framed console with a stored token could be clicked into a blackout).
CONSOLE_CSP = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; "
               "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
# A query string is a few short fields; more is a mistake.
MAX_QUERY_FIELDS = 16

# /ws: the state five times a second (docs/console.md): a change the operator made shows within
# a blink, and 24 nodes' health is a few KB, so 5/s costs a tablet nothing.
WS_STATE_INTERVAL_S = 0.2
# A live stream whose socket will not take a message for this long (a tablet gone out of the
# WiFi, a stalled browser) is dropped: its thread ends and its preview watch with it.
WS_SEND_TIMEOUT_S = 5.0
# Heartbeat: a ping this often; a client that sent nothing (not even the pong browsers send by
# themselves) for WS_LIVENESS_S is gone without a FIN (half-open TCP) and is dropped.
WS_PING_INTERVAL_S = 5.0
WS_LIVENESS_S = 15.0
# How often an idle stream's reader looks up: server stop and a failed send are seen this fast.
WS_POLL_S = 0.1
# After our close frame, how long we wait for the client's before dropping the socket (RFC 6455 7.1.1).
WS_CLOSE_WAIT_S = 1.0
# A hall has a few console tablets and desktops; each stream costs a thread and a state
# encoding 5 times a second, so past this many the next is refused (503) rather than slowing all.
WS_MAX_CLIENTS = 16
# Read size for a stream's socket: clients send only pings and the close.
WS_RECV_BYTES = 16 * 1024


def parse_query(query: str) -> dict[str, str]:
    """``"q=jup&limit=5"`` -> ``{"q": "jup", "limit": "5"}`` (percent-decoded UTF-8, ``+`` a space).

    ValueError naming the problem: a field without ``=``, a name given twice, bytes that are not
    UTF-8, more than MAX_QUERY_FIELDS fields.
    """
    from urllib.parse import parse_qsl

    if not query:
        return {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True, errors="strict",
                          max_num_fields=MAX_QUERY_FIELDS)
    except UnicodeDecodeError:
        raise ValueError("the query is not percent-encoded UTF-8") from None
    except ValueError as e:
        if "Max number of fields" in str(e):
            raise ValueError(f"more than {MAX_QUERY_FIELDS} query fields") from None
        raise ValueError(f"the query {query[:80]!r} is not name=value pairs joined by '&'") from None
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"{name!r} is given twice in the query; give it once")
        out[name] = value
    return out


def json_bytes(obj, indent: int | None = None) -> bytes:
    """JSON a browser's ``JSON.parse`` reads: NaN and infinities (not JSON) become null."""
    try:
        return json.dumps(obj, indent=indent, allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite(obj), indent=indent, allow_nan=False).encode()


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


class ControlServer:
    """Serves ``gets`` (path -> () -> dict) openly and ``posts`` (path -> handler) with the token
    (a handler raising BadRequest -> 400; Refused, DomectlError or another ValueError -> 409).

    Also openly: ``queries`` (path -> handler of the query string's fields -> dict; Refused,
    DomectlError or ValueError -> 400), ``raw_gets`` (path -> () -> (content type, bytes), or
    None: 404, nothing there yet; Refused(message) -> 404 with that message), the console page,
    and the live stream ``/ws`` when ``live`` (() -> the /api/state dict) is given, with the
    binary preview from ``preview`` (domectl.preview.PreviewRenderer: ``watch()``,
    ``wait_jpeg(after_seq, timeout_s)``) when it is.
    """

    def __init__(self, host: str, port: int, token: str, *, gets: Mapping[str, Callable[[], dict]],
                 posts: Mapping[str, Handler],
                 queries: Mapping[str, Callable[[dict[str, str]], dict]] | None = None,
                 raw_gets: Mapping[str, Callable[[], tuple[str, bytes] | None]] | None = None,
                 live: Callable[[], dict] | None = None, preview=None):
        self.token = token
        self.gets = dict(gets)
        self.posts = dict(posts)
        self.queries = dict(queries or {})
        self.raw_gets = dict(raw_gets or {})
        self.live = live
        self.preview = preview
        self.refused: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ws_open = 0
        self._ws_total = 0
        self._ws_closed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = HTTP_IDLE_TIMEOUT_S

            def log_message(self, fmt, *args):     # the master's log, not stderr
                log.debug("%s %s", self.address_string(), fmt % args)

            def do_GET(self):
                server._handle(self, "GET")

            def do_POST(self):
                server._handle(self, "POST")

            def do_PUT(self):
                server._reply(self, HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use GET to read, POST to control"})

            do_DELETE = do_PATCH = do_PUT

        try:
            self.httpd = ThreadingHTTPServer((host, port), RequestHandler)
        except OSError as e:
            raise ControlError(f"cannot serve the control API on {host}:{port}: {e.strerror}; is "
                               "another master running? (cluster.toml [master] http_port)") from None
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="control-http", daemon=True)

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; live streams get a close frame (1001 going away) and end within a second or two."""
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(2)
        with self._ws_closed:
            self._ws_closed.wait_for(lambda: self._ws_open == 0, timeout=WS_CLOSE_WAIT_S + 1.0)

    @property
    def ws_clients(self) -> dict[str, int]:
        """Live streams: ``{"open": now, "total": since start}``."""
        with self._lock:
            return {"open": self._ws_open, "total": self._ws_total}

    def _count(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] = self.refused.get(reason, 0) + 1

    def _reply(self, req: BaseHTTPRequestHandler, status: HTTPStatus, body: dict,
               headers: Mapping[str, str] | None = None) -> None:
        self._send(req, status, "application/json", json_bytes(body, indent=1), headers)

    def _send(self, req: BaseHTTPRequestHandler, status: HTTPStatus, content_type: str, data: bytes,
              headers: Mapping[str, str] | None = None) -> None:
        req.send_response(status)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Cache-Control", "no-store")
        req.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        req.end_headers()
        req.wfile.write(data)

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        path, _, query = req.path.partition("?")
        path = path.rstrip("/") or "/"
        try:
            if method == "GET":
                return self._get(req, path, query)
            handler = self.posts.get(path)
            if handler is None:
                self._count("not_found")
                self._skip_body(req)
                return self._reply(req, HTTPStatus.NOT_FOUND, {"error": f"no {path}; controls: "
                                   + ", ".join(sorted(self.posts))})
            auth = req.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                self._count("no_token")
                self._skip_body(req)
                return self._reply(req, HTTPStatus.UNAUTHORIZED,
                                   {"error": "control needs the header 'Authorization: Bearer <token>'"})
            if not hmac.compare_digest(auth[len("Bearer "):].strip().encode(), self.token.encode()):
                self._count("bad_token")
                self._skip_body(req)
                return self._reply(req, HTTPStatus.FORBIDDEN, {"error": "wrong control token"})
            body = self._body(req)
            if isinstance(body, tuple):
                self._count("bad_body")
                return self._reply(req, *body)
            try:
                result = handler(body)
            except BadRequest as e:
                self._count("bad_body")
                return self._reply(req, HTTPStatus.BAD_REQUEST, {"error": str(e)})
            except (Refused, DomectlError, ValueError) as e:
                self._count("refused")
                return self._reply(req, HTTPStatus.CONFLICT, {"error": str(e)})
            return self._reply(req, HTTPStatus.OK, result)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            req.close_connection = True
            return
        except Exception:                       # a bug in a handler must not take the server down
            log.exception("control %s %s failed", method, path)
            self._count("internal_error")
            try:
                self._reply(req, HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error; see the master's log"})
            except OSError:
                pass

    def _get(self, req: BaseHTTPRequestHandler, path: str, query: str) -> None:
        if path in STATIC_FILES:
            return self._static(req, *STATIC_FILES[path])
        if path == "/ws":
            return self._websocket(req, query)
        if path in self.gets:
            return self._reply(req, HTTPStatus.OK, self.gets[path]())
        if path in self.queries:
            try:
                result = self.queries[path](parse_query(query))
            except (Refused, DomectlError, ValueError) as e:
                self._count("bad_query")
                return self._reply(req, HTTPStatus.BAD_REQUEST, {"error": f"{path}: {e}"})
            return self._reply(req, HTTPStatus.OK, result)
        if path in self.raw_gets:
            try:
                got = self.raw_gets[path]()
            except Refused as e:
                return self._reply(req, HTTPStatus.NOT_FOUND, {"error": f"{path}: {e}"})
            if got is None:
                return self._reply(req, HTTPStatus.NOT_FOUND, {"error": f"{path}: nothing yet; the master "
                                   "makes it once it runs (the first frame; a preview while a console watches)"})
            content_type, data = got
            return self._send(req, HTTPStatus.OK, content_type, data)
        self._count("not_found")
        readable = sorted({*self.gets, *self.queries, *self.raw_gets, "/", "/ws"})
        return self._reply(req, HTTPStatus.NOT_FOUND, {"error": f"no {path}; try " + ", ".join(readable)})

    def _static(self, req: BaseHTTPRequestHandler, name: str, content_type: str) -> None:
        try:
            data = (CONSOLE_DIR / name).read_bytes()
        except OSError as e:
            log.error("console page: cannot read %s: %s", CONSOLE_DIR / name, e)
            return self._reply(req, HTTPStatus.NOT_FOUND, {"error": f"the console's {name} is not installed "
                               f"({CONSOLE_DIR}); reinstall domectl (pip install -e .)"})
        headers = {"Content-Security-Policy": CONSOLE_CSP, "Referrer-Policy": "no-referrer"}
        return self._send(req, HTTPStatus.OK, content_type, data, headers)

    def _skip_body(self, req: BaseHTTPRequestHandler) -> None:
        """Read and drop a refused request's body, so the next request on the connection starts
        where it should (a browser reuses it); one too large or unreadable closes the connection."""
        try:
            length = int(req.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if 0 <= length <= MAX_BODY_BYTES:
            req.rfile.read(length)
        else:
            req.close_connection = True

    def _body(self, req: BaseHTTPRequestHandler) -> dict | tuple[HTTPStatus, dict]:
        try:
            length = int(req.headers.get("Content-Length", "0"))
        except ValueError:
            req.close_connection = True      # where this body ends is unknown: so is the next request
            return HTTPStatus.BAD_REQUEST, {"error": "Content-Length is not a number"}
        if length < 0:
            req.close_connection = True
            return HTTPStatus.BAD_REQUEST, {"error": "Content-Length is negative"}
        if length > MAX_BODY_BYTES:
            req.close_connection = True
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body of {length} bytes; at most {MAX_BODY_BYTES}"}
        raw = req.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError) as e:
            return HTTPStatus.BAD_REQUEST, {"error": f"body is not UTF-8 JSON: {e}"}
        if not isinstance(body, dict):
            return HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object"}
        return body

    # ------------------------------------------------------------------ /ws

    def _websocket(self, req: BaseHTTPRequestHandler, query: str) -> None:
        """The RFC 6455 opening handshake (section 4.2), then the stream on this thread until it ends."""
        import base64
        import binascii

        from wsproto.utilities import generate_accept_token

        def bad(message: str, **headers: str) -> None:
            return self._ws_refuse(req, HTTPStatus.BAD_REQUEST, message, headers)

        def tokens(name: str) -> set[str]:
            return {t.strip().lower() for t in req.headers.get(name, "").split(",")}

        if self.live is None:
            self._count("not_found")
            return self._reply(req, HTTPStatus.NOT_FOUND, {"error": "/ws: this server has no live stream"})
        try:
            fields = parse_query(query)
        except ValueError as e:
            return bad(f"/ws: {e}")
        unknown = set(fields) - {"preview"}
        if unknown:
            return bad(f"/ws: unknown query field(s) {', '.join(sorted(unknown))}; /ws takes preview=0|1")
        if fields.get("preview", "1") not in ("0", "1"):
            return bad(f"/ws: preview={fields['preview']!r}; give preview=1 (JPEGs, the default) or preview=0")
        if "websocket" not in tokens("Upgrade") or "upgrade" not in tokens("Connection"):
            return bad("/ws is a WebSocket: open it with one (new WebSocket('ws://<master>:<port>/ws')); "
                       "the request needs 'Upgrade: websocket' and 'Connection: Upgrade'")
        version = req.headers.get("Sec-WebSocket-Version", "")
        if version.strip() != "13":
            return bad(f"/ws: Sec-WebSocket-Version {version or 'missing'}; this server speaks 13 (RFC 6455)",
                       **{"Sec-WebSocket-Version": "13"})
        key = req.headers.get("Sec-WebSocket-Key", "").strip()
        try:
            key_ok = len(base64.b64decode(key, validate=True)) == 16
        except (binascii.Error, ValueError):
            key_ok = False
        if not key_ok:
            return bad("/ws: Sec-WebSocket-Key " + (f"{key[:40]!r} is not 16 bytes in base64" if key else "missing"))
        with self._lock:
            if self._ws_open >= WS_MAX_CLIENTS or self._stopping.is_set():
                full = True
            else:
                full = False
                self._ws_open += 1
                self._ws_total += 1
        if full:
            return self._ws_refuse(req, HTTPStatus.SERVICE_UNAVAILABLE,
                                   f"/ws: {WS_MAX_CLIENTS} live streams are open already; close a console", {})
        try:
            req.send_response(HTTPStatus.SWITCHING_PROTOCOLS)
            req.send_header("Upgrade", "websocket")
            req.send_header("Connection", "Upgrade")
            req.send_header("Sec-WebSocket-Accept", generate_accept_token(key.encode()).decode())
            req.end_headers()
            req.close_connection = True      # after the stream, the socket is not HTTP again
            # The client sends nothing before it has our 101 (RFC 6455 4.1), so nothing of the stream
            # can be in the request reader's buffer: the socket is read directly from here on.
            preview = self.preview if fields.get("preview", "1") == "1" else None
            _LiveStream(self, req.connection, preview).run()
        finally:
            with self._ws_closed:
                self._ws_open -= 1
                self._ws_closed.notify_all()

    def _ws_refuse(self, req: BaseHTTPRequestHandler, status: HTTPStatus, message: str,
                   headers: Mapping[str, str]) -> None:
        self._count("bad_upgrade" if status == HTTPStatus.BAD_REQUEST else "busy")
        req.close_connection = True
        return self._reply(req, status, {"error": message}, headers)


class _LiveStream:
    """One /ws client after the handshake: this (the request's) thread reads, a second one sends.

    The reader answers pings and the close, ignores messages, and ends the stream when the client
    goes, stays silent past WS_LIVENESS_S, a send fails, or the server stops. The sender sends the
    state every WS_STATE_INTERVAL_S and, between, every new preview JPEG: a slow client gets the
    newest image when its socket takes one (no queue builds up), and blocks only its own thread.
    """

    def __init__(self, server: ControlServer, sock, preview):
        from wsproto.connection import Connection, ConnectionType

        self.server = server
        self.sock = sock
        self.preview = preview
        self.conn = Connection(ConnectionType.SERVER)
        self._send_lock = threading.Lock()   # wsproto's encoder and the socket: one frame at a time, in order
        self._done = threading.Event()       # the sender stops, and tells the reader a send failed
        self._send_failed = False

    def run(self) -> None:
        from wsproto.connection import ConnectionState
        from wsproto.events import CloseConnection, Message, Ping
        from wsproto.frame_protocol import CloseReason

        self.sock.settimeout(WS_SEND_TIMEOUT_S)
        sender = threading.Thread(target=self._sender, name="control-ws-send", daemon=True)
        sender.start()
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        now = time.monotonic()
        heard_s = next_ping_s = now
        next_ping_s += WS_PING_INTERVAL_S
        close_deadline_s = None
        try:
            while self.conn.state is not ConnectionState.CLOSED:
                now = time.monotonic()
                if self.conn.state is ConnectionState.OPEN:
                    reason = ("stopping" if self.server._stopping.is_set() else "send failed" if self._send_failed
                              else "silent" if now - heard_s > WS_LIVENESS_S else None)
                    if reason == "send failed":
                        break                # the socket is broken or stalled: a close frame would not get out
                    if reason is not None:
                        code = CloseReason.GOING_AWAY if reason == "stopping" else CloseReason.POLICY_VIOLATION
                        self._send(CloseConnection(code=code, reason=reason))
                        close_deadline_s = now + WS_CLOSE_WAIT_S
                    elif now >= next_ping_s:
                        self._send(Ping(b"domectl"))
                        next_ping_s = now + WS_PING_INTERVAL_S
                elif close_deadline_s is not None and now > close_deadline_s:
                    break
                if not selector.select(WS_POLL_S):
                    continue
                try:
                    data = self.sock.recv(WS_RECV_BYTES)
                except OSError:              # reset, or a timeout: the client is gone either way
                    data = b""
                heard_s = time.monotonic()
                with self._send_lock:
                    self.conn.receive_data(data or None)
                    events = list(self.conn.events())
                for event in events:
                    if isinstance(event, Ping):
                        self._send(event.response())
                    elif isinstance(event, CloseConnection):
                        if self.conn.state is ConnectionState.REMOTE_CLOSING:     # the client's close
                            self._send(event.response())
                        elif self.conn.state is ConnectionState.OPEN:
                            # wsproto's verdict on bytes that break RFC 6455 (unmasked, bad UTF-8, ...):
                            # fail the connection (7.1.7): our close with its code, then the socket.
                            self._send(CloseConnection(code=event.code, reason=event.reason[:120]))
                            log.info("live stream to %s failed: %s", _peer(self.sock), event.reason)
                            data = b""
                        if event.code not in (CloseReason.NORMAL_CLOSURE, CloseReason.GOING_AWAY,
                                              CloseReason.ABNORMAL_CLOSURE):
                            log.info("live stream closed by %s: %s %s", _peer(self.sock), event.code, event.reason)
                        break
                    elif isinstance(event, Message):
                        pass                 # controls go through the REST API (docs/console.md)
                if not data:
                    break
        except Exception:                    # a bug here ends this stream, never the server
            log.exception("live stream to %s failed", _peer(self.sock))
        finally:
            self._done.set()
            selector.close()
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sender.join(WS_SEND_TIMEOUT_S + 1.0)

    def _send(self, event) -> bool:
        """Encode and send one event; False (and the stream ends) when the socket fails or stalls."""
        from wsproto.utilities import LocalProtocolError

        if self._send_failed:
            return False
        with self._send_lock:
            try:
                data = self.conn.send(event)
            except LocalProtocolError:       # the stream is closing: nothing more goes out
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:                  # gone (reset, broken pipe) or stalled past WS_SEND_TIMEOUT_S
                self._send_failed = True
                self._done.set()
                return False

    def _sender(self) -> None:
        from contextlib import nullcontext

        from wsproto.events import BytesMessage, TextMessage

        preview = self.preview
        seq = 0                              # PreviewRenderer numbers its images from 1
        logged = False
        next_state_s = time.monotonic()
        try:
            with preview.watch() if preview is not None else nullcontext():
                while not self._done.is_set():
                    now = time.monotonic()
                    if now >= next_state_s:
                        try:
                            text = json_bytes({"type": "state", "state": self.server.live()}).decode()
                        except Exception:    # the page keeps its last state; the preview goes on
                            if not logged:
                                log.exception("live stream: the state could not be read")
                                logged = True
                        else:
                            if not self._send(TextMessage(text)):
                                return
                        next_state_s = max(next_state_s + WS_STATE_INTERVAL_S, now)
                        continue
                    if preview is None:
                        self._done.wait(next_state_s - now)
                        continue
                    got = preview.wait_jpeg(seq, next_state_s - now)
                    if got is None:          # a stopped renderer answers at once: do not spin on it
                        self._done.wait(max(0.0, next_state_s - time.monotonic()))
                        continue
                    seq, jpeg = got
                    if not self._send(BytesMessage(bytes(jpeg))):
                        return
        except Exception:                    # a preview bug ends this stream (the page reconnects), not the server
            log.exception("live stream: the sender failed")
            self._send_failed = True
            self._done.set()


def _peer(sock) -> str:
    try:
        host, port = sock.getpeername()[:2]
        return f"{host}:{port}"
    except OSError:
        return "a client"


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed")


class ControlClient:
    """`domectl poll` and tests: JSON requests to a master's control API."""

    def __init__(self, host: str, port: int, token: str | None):
        self.base = f"http://{host}:{port}"
        self.token = token

    def get(self, path: str) -> dict:
        return self._request("GET", path, None)

    def post(self, path: str, body: dict) -> dict:
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: dict | None) -> dict:
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token and method == "POST":
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=CLIENT_TIMEOUT_S) as resp:
                return json.loads(resp.read().decode())
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read().decode()).get("error", e.reason)
            except ValueError:
                message = e.reason
            raise ControlError(f"{method} {path}: {e.code} {message}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ControlError(f"no master answers on {self.base} ({reason}): start `domectl master` "
                               "(or `domectl run`) for this hall first") from None
