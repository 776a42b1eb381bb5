"""An HTTP proxy for tests that breaks chosen requests on their way to Goodword, so a real
SDK has to retry: the n-th request it receives gets the n-th fault of a script.

- FORWARD: pass the request to Goodword and its answer back.
- DROP_AFTER_STORE: pass the request to Goodword, read its answer (the events are stored by
  then), and close the client's connection without answering, as a load balancer that loses
  a response would. The client cannot tell it was stored, so it sends the batch again.
- REFUSE_503: answer 503 without forwarding anything.

Each request is logged with the message ids it carried, so a test can show that the request
after a fault was the SDK retrying the same batch.
"""

from __future__ import annotations

import enum
import gzip
import http.client
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


class Fault(enum.Enum):
    FORWARD = "forward"
    DROP_AFTER_STORE = "drop after store"
    REFUSE_503 = "refuse 503"


@dataclass(frozen=True)
class Seen:
    """One request the proxy received and what it did with it."""

    fault: Fault
    path: str
    content_encoding: str
    message_ids: tuple[str, ...]
    upstream_status: int | None  # Goodword's answer; None when not forwarded


# Hop-by-hop headers are the proxy's own business, not Goodword's (RFC 9110, section 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "host"}


class FaultProxy:
    """Listens on 127.0.0.1 (a free port the kernel picks) in a background thread."""

    def __init__(self, upstream: str, script: Sequence[Fault]) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname is not None
        assert parts.port is not None
        self._upstream = (parts.hostname, parts.port)
        self._script = list(script)
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next_fault(self) -> Fault:
        with self._lock:
            done = len(self.seen)
        return self._script[done] if done < len(self._script) else Fault.FORWARD

    def _log(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        host, port = self._upstream
        upstream = http.client.HTTPConnection(host, port, timeout=30)
        try:
            upstream.request(method, path, body=body, headers=headers)
            answer = upstream.getresponse()
            return answer.status, answer.getheader("Content-Type", ""), answer.read()
        finally:
            upstream.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' requests sessions expect

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                fault = proxy._next_fault()
                ids = message_ids(body, encoding)
                if fault is Fault.REFUSE_503:
                    proxy._log(Seen(fault, self.path, encoding, ids, None))
                    self._answer(503, "application/json", b'{"message": "injected fault"}')
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                status, content_type, data = proxy._forward("POST", self.path, headers, body)
                proxy._log(Seen(fault, self.path, encoding, ids, status))
                if fault is Fault.DROP_AFTER_STORE:
                    self.close_connection = True  # nothing written: the client sees EOF
                    return
                self._answer(status, content_type, data)

            def _answer(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test asserts on `seen`; an access log would only be noise

        return Handler


def message_ids(body: bytes, encoding: str) -> tuple[str, ...]:
    """The messageIds of a /v1/batch body, in order (empty for anything else)."""
    try:
        raw = gzip.decompress(body) if encoding.lower() == "gzip" else body
        batch = json.loads(raw).get("batch", [])
        return tuple(str(event.get("messageId", "")) for event in batch)
    except (OSError, ValueError, AttributeError):
        return ()
