"""A loopback HTTP proxy in front of the moto server that fails a share of the S3 requests.

Point ``AWS_ENDPOINT_URL_S3`` at :attr:`FaultyProxy.url` and every S3 call of
the code under test goes through it.  A request picked by the seeded random
draw (``rate``) gets the next fault of ``kinds`` in turn, so every kind is
injected once enough requests went through:

- ``500``: an S3 ``InternalError`` answer; the request never reaches moto.
- ``503``: a ``SlowDown`` answer (throttling); never reaches moto.
- ``reset``: the connection is reset before the request is forwarded.
- ``reset_after``: the request is forwarded (S3 applies it), then the
  connection is reset instead of answering -- the retry repeats a request
  that already happened.
- ``cut_body``: the answer's headers and half of its body, then a reset (the
  client fails while reading the body).  Only for GETs with a body; other
  requests get ``500`` instead.
- ``delete_errors``: a ``DeleteObjects`` answered 200 with every key listed
  as ``InternalError`` (S3's partial failure); other requests get ``500``.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import random
import re
import socket
import struct
import threading
from urllib.parse import urlparse

KINDS = ("500", "503", "reset", "reset_after", "cut_body", "delete_errors")

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class FaultyProxy:
    """Forwards to ``upstream``; fails a share ``rate`` of the requests with the faults in ``kinds``."""

    def __init__(self, upstream: str, rate: float = 0.3, kinds: tuple[str, ...] = KINDS, seed: int = 7) -> None:
        self.upstream = urlparse(upstream)
        self.rate = rate
        self.kinds = kinds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.injected: collections.Counter[str] = collections.Counter()
        self.log: list[tuple[str, str, str]] = []  # (method, path, fault or "")
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reset(self) -> None:
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()  # RST, not FIN
                except OSError:
                    pass

            def _error(self, status: int, code: str) -> None:
                body = (
                    f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                    f"<Message>injected by the test proxy</Message></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                out_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
                status = response.status
                conn.close()
                return status, out_headers, data

            def _handle(self) -> None:
                body = self._body()
                fault = proxy._draw(self.command, self.path)
                if fault == "500":
                    return self._error(500, "InternalError")
                if fault == "503":
                    return self._error(503, "SlowDown")
                if fault == "reset":
                    return self._reset()
                if fault == "delete_errors":
                    keys = re.findall(rb"<Key>(.*?)</Key>", body)
                    errors = "".join(
                        f"<Error><Key>{k.decode()}</Key><Code>InternalError</Code><Message>injected</Message></Error>"
                        for k in keys
                    )
                    xml = (
                        f'<?xml version="1.0" encoding="UTF-8"?><DeleteResult '
                        f'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{errors}</DeleteResult>'
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(xml)))
                    self.end_headers()
                    self.wfile.write(xml)
                    return None
                status, headers, data = self._forward(body)
                if fault == "reset_after":
                    return self._reset()
                self.send_response_only(status)  # upstream's own Date and Server headers follow
                for key, value in headers:
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                if self.command == "HEAD":
                    length = next((v for k, v in headers if k.lower() == "content-length"), "0")
                    self.send_header("Content-Length", length)
                    self.end_headers()
                    return None
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault == "cut_body" and len(data) > 1:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    return self._reset()
                self.wfile.write(data)
                return None

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:  # resets are expected
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="faulty-s3-proxy", daemon=True)

    def _draw(self, method: str, path: str) -> str | None:
        """The fault for this request, or None: the applicable kind injected least so far."""
        is_delete = method == "POST" and re.search(r"[?&]delete", path) is not None
        applicable = [
            k for k in self.kinds if (k != "cut_body" or method == "GET") and (k != "delete_errors" or is_delete)
        ]
        with self.lock:
            self.requests += 1
            fault = None
            if applicable and self.rng.random() < self.rate:
                fault = min(applicable, key=lambda k: (self.injected[k], self.kinds.index(k)))
                self.injected[fault] += 1
            self.log.append((method, path, fault or ""))
            return fault

    def __enter__(self) -> FaultyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
