"""A webhook receiver on loopback, in a thread: it keeps every JSON body POSTed to it (`received`, the ones it
took; `attempts`, every POST), answers `status` (200, or 500 to play a failing receiver) and can be stopped
and started again on the same port (a receiver that is down, then back). Its port is the kernel's choice at
the first start (bound, then read back: no free-then-bind race); while it is down the port stays bound and
never listening, so connections are refused and no other process can take it meanwhile."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # binds beside the placeholder that keeps the port while it is down
    daemon_threads = True


@dataclass
class Receiver:
    status: int = 200
    port: int = 0  # 0 until the first start
    received: list[dict] = field(default_factory=list)
    attempts: int = 0
    _server: ThreadingHTTPServer | None = None
    _placeholder: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T000/secret"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                receiver.attempts += 1
                if receiver.status < 300:
                    receiver.received.append(body)
                data = b"ok" if receiver.status < 300 else b"internal error"
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        self._release()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self, keep_port: bool = False) -> None:
        """Stop answering; `keep_port`: hold the port, refusing connections, until `start` (a receiver that
        is down and will be back), else let it go."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if keep_port and self._placeholder is None:
            self._placeholder = socket.socket()
            self._placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._placeholder.bind(("127.0.0.1", self.port))
        elif not keep_port:
            self._release()

    def _release(self) -> None:
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    def take(self) -> list[dict]:
        """The bodies received since the last call."""
        taken, self.received = self.received, []
        return taken
