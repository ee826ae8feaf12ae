"""A local HTTP server standing in for dataset hosts and mirrors in tests (no internet).

``MirrorServer`` serves ``files`` (name -> bytes) from 127.0.0.1 on an ephemeral port,
honours ``Range: bytes=N-`` requests (206), answers HEAD, records every request, and
injects the faults named in ``faults`` (name -> fault):

- ``"404"``: not found;
- ``"500"``: internal server error (a transient failure);
- ``"drop_once"``: the first GET announces the full length, sends half and closes;
- ``"no_range"``: ignores ``Range`` and always sends the whole file (200).
"""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class MirrorServer:
    """Serve ``files`` over HTTP on 127.0.0.1; ``base_url`` is the mirror's root."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, str] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self._dropped: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def downloads(self) -> list[str]:
        """Names requested with GET, in order."""
        return [name for method, name, _ in self.requests if method == "GET"]

    def start(self) -> "MirrorServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self, with_body: bool):
                name = unquote(urlparse(self.path).path.lstrip("/"))
                requested_range = self.headers.get("Range")
                with server._lock:
                    server.requests.append((self.command, name, requested_range))
                    fault = server.faults.get(name)
                    drop = with_body and fault == "drop_once" and name not in server._dropped
                    if drop:
                        server._dropped.add(name)
                if name not in server.files or fault in ("404", "500"):
                    code = 500 if fault == "500" else 404
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = server.files[name]
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", requested_range or "")
                if match and fault != "no_range":
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Accept-Ranges", "none" if fault == "no_range" else "bytes")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if not with_body:
                    return
                body = data[start:]
                if drop:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def do_GET(self):
                self._serve(with_body=True)

            def do_HEAD(self):
                self._serve(with_body=False)

        return Handler
