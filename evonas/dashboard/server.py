"""The dashboard's HTTP server: the standard library's, serving the page's files shipped in the
package and two read-only JSON endpoints. No asset comes from the internet."""

from __future__ import annotations

import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from evonas.dashboard import data
from evonas.errors import NASError, RunNotFoundError
from evonas.storage import SQLStorage

log = logging.getLogger(__name__)

STATIC = {"/": "index.html", "/app.js": "app.js", "/style.css": "style.css"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}  # fmt: skip
# no script, style, font or image from anywhere but this server; nothing may frame the page
POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class _Handler(BaseHTTPRequestHandler):
    storage: SQLStorage
    lock: threading.Lock

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("dashboard: " + fmt, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value, default=str).encode(), "application/json")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path == "/api/runs":
                with self.lock:
                    self._json(HTTPStatus.OK, data.runs(self.storage))
                return
            if match := re.fullmatch(r"/api/runs/(\d+)", path):
                with self.lock:
                    self._json(HTTPStatus.OK, data.run_detail(self.storage, int(match.group(1))))
                return
            name = STATIC.get(path) or ("index.html" if re.fullmatch(r"/run/\d+", path) else None)
            if name is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})
                return
            body = resources.files("evonas.dashboard").joinpath("static", name).read_bytes()
            self._send(HTTPStatus.OK, body, TYPES["." + name.rsplit(".", 1)[1]])
        except RunNotFoundError as exc:
            self._json(HTTPStatus.NOT_FOUND, {"error": str(exc)})
        except NASError as exc:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)})

    def _refuse(self) -> None:
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "the dashboard is read-only"})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse


def make_server(db: str, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server over the database ``db``, opened without creating or upgrading anything."""
    storage = SQLStorage(db, create=False, upgrade=False)
    handler = type("Handler", (_Handler,), {"storage": storage, "lock": threading.Lock()})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(server: ThreadingHTTPServer) -> None:
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        server.RequestHandlerClass.storage.close()  # type: ignore[attr-defined]
