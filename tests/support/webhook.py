"""A webhook receiver on loopback, in a thread: it keeps every JSON body POSTed to it (`received`, the ones it
took; `attempts`, every POST), answers `status` (200, or 500 to play a failing receiver) and can be stopped
and started again on the same port (a receiver that is down, then back)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from llmusage.devtools.loopback import free_port


@dataclass
class Receiver:
    status: int = 200
    port: int = field(default_factory=free_port)
    received: list[dict] = field(default_factory=list)
    attempts: int = 0
    _server: ThreadingHTTPServer | None = None

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

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def take(self) -> list[dict]:
        """The bodies received since the last call."""
        taken, self.received = self.received, []
        return taken
