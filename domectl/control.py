"""The master's HTTP control API: what `domectl poll` (and the operator's console) talk to.

A small JSON-over-HTTP server in threads of the master (stdlib
``ThreadingHTTPServer``). The handlers (domectl/services.py) run in those
threads while the frame loop runs: each must be safe against it (the vote
desk and the show run take their own locks; a show being stopped is flagged
closed so a frame drawn with it meanwhile leaves the desk alone). Reading is
open, controlling needs the hall's control token:

    GET  /api/state          the master's last status (frame, nodes, poll, show, ...)
    GET  /api/poll           the poll: open, question, options, tally, rejected by reason
    GET  /api/show           the show: state, show time, hold, next cue, poll results (null: none)
    POST /api/poll/open      {"question": "..." | {"fr": "...", ...}, "options": ["A", "B"],
                              "duration_s": 30}                       (token)
    POST /api/poll/close     {}                                       (token)
    POST /api/show/load      {"path": "...", "play": false}           (token)
    POST /api/show/play|pause|resume|skip|stop  {}                    (token)
    POST /api/show/seek      {"to": 90 | "05:35" | "label"}           (token)

Control requests carry ``Authorization: Bearer <token>``. The token is the
file ``control.token`` in the hall's key directory when there is one (a
hall's console tablets are given it once), else a fresh one the master
writes, readable by its user only, into its run directory, where `domectl
poll` on the same machine finds it.

Every error is a 4xx with ``{"error": "..."}`` naming what was wrong: a
missing or wrong token (401/403), an unknown path (404), a body that is
not a JSON object or is too large (400/413), a refused command (409).
Nothing a client sends can stop the server or the master.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
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


class ControlServer:
    """Serves ``gets`` (path -> () -> dict) openly and ``posts`` (path -> handler) with the token."""

    def __init__(self, host: str, port: int, token: str, *, gets: Mapping[str, Callable[[], dict]],
                 posts: Mapping[str, Handler]):
        self.token = token
        self.gets = dict(gets)
        self.posts = dict(posts)
        self.refused: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

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
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(2)

    def _count(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] = self.refused.get(reason, 0) + 1

    def _reply(self, req: BaseHTTPRequestHandler, status: HTTPStatus, body: dict) -> None:
        data = json.dumps(body, indent=1).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Cache-Control", "no-store")
        req.end_headers()
        req.wfile.write(data)

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        path = req.path.split("?", 1)[0].rstrip("/") or "/"
        try:
            if method == "GET":
                get = self.gets.get(path)
                if get is None:
                    self._count("not_found")
                    return self._reply(req, HTTPStatus.NOT_FOUND, {"error": f"no {path}; try "
                                       + ", ".join(sorted(self.gets))})
                return self._reply(req, HTTPStatus.OK, get())
            handler = self.posts.get(path)
            if handler is None:
                self._count("not_found")
                return self._reply(req, HTTPStatus.NOT_FOUND, {"error": f"no {path}; controls: "
                                   + ", ".join(sorted(self.posts))})
            auth = req.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                self._count("no_token")
                return self._reply(req, HTTPStatus.UNAUTHORIZED,
                                   {"error": "control needs the header 'Authorization: Bearer <token>'"})
            if not hmac.compare_digest(auth[len("Bearer "):].strip().encode(), self.token.encode()):
                self._count("bad_token")
                return self._reply(req, HTTPStatus.FORBIDDEN, {"error": "wrong control token"})
            body = self._body(req)
            if isinstance(body, tuple):
                self._count("bad_body")
                return self._reply(req, *body)
            try:
                result = handler(body)
            except (Refused, DomectlError, ValueError) as e:
                self._count("refused")
                return self._reply(req, HTTPStatus.CONFLICT, {"error": str(e)})
            return self._reply(req, HTTPStatus.OK, result)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception:                       # a bug in a handler must not take the server down
            log.exception("control %s %s failed", method, path)
            self._count("internal_error")
            try:
                self._reply(req, HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error; see the master's log"})
            except OSError:
                pass

    def _body(self, req: BaseHTTPRequestHandler) -> dict | tuple[HTTPStatus, dict]:
        try:
            length = int(req.headers.get("Content-Length", "0"))
        except ValueError:
            return HTTPStatus.BAD_REQUEST, {"error": "Content-Length is not a number"}
        if length < 0:
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
