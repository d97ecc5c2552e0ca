"""A real HTTP server on 127.0.0.1 that misbehaves on request, for download tests.

Each path gets a script of ``Reply`` values, used one per request in order (the last one repeats),
so a test can say "500, 500, then the file" or "stall mid-body, then the file" and count how many
requests the client made. Faults are real socket behaviour: resets, stalls, short bodies.

    with FaultServer() as server:
        server.script("/m.pt", status(500), ok(data))
        fetch(server.url("/m.pt"))
        assert server.hits["/m.pt"] == 2
"""

from __future__ import annotations

import collections
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """How to answer one request.

    ``content_length`` is the header value (``None``: the true body length). ``send_bytes`` cuts
    the body after that many bytes, then ``after_cut`` decides: "close" the connection cleanly,
    "reset" it (TCP RST) or "stall" (hold it open, silent, for ``stall_seconds``).
    ``answer=False`` resets the connection without any response.
    """

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_length: int | None = None
    delay_before_headers: float = 0.0
    send_bytes: int | None = None
    after_cut: str = "close"
    stall_seconds: float = 60.0
    answer: bool = True


def ok(body: bytes, content_type: str = "application/octet-stream") -> Reply:
    return Reply(body=body, headers=(("Content-Type", content_type),))


def status(code: int) -> Reply:
    return Reply(status=code, body=f"error {code}\n".encode())


def reset() -> Reply:
    return Reply(answer=False)


def stall_before_headers(seconds: float) -> Reply:
    return Reply(body=b"late", delay_before_headers=seconds)


def stall_mid_body(body: bytes, after: int, seconds: float = 60.0) -> Reply:
    return Reply(body=body, send_bytes=after, after_cut="stall", stall_seconds=seconds)


def truncated(body: bytes, after: int) -> Reply:
    """Announce the full length, send ``after`` bytes, close."""
    return Reply(body=body, send_bytes=after, after_cut="close")


def reset_mid_body(body: bytes, after: int) -> Reply:
    return Reply(body=body, send_bytes=after, after_cut="reset")


def redirect(location: str, code: int = 302) -> Reply:
    return Reply(status=code, headers=(("Location", location),))


class FaultServer:
    """Threaded HTTP/1.0 server on an ephemeral 127.0.0.1 port; a context manager."""

    def __init__(self) -> None:
        self.hits: collections.Counter[str] = collections.Counter()
        self.stalling = threading.Event()  # set when some reply starts a mid-body stall
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer requests for ``path`` with ``replies`` in order; the last one repeats."""
        with self._lock:
            self._scripts[path] = list(replies)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()  # ends every stall at once
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def _next_reply(self, path: str) -> Reply | None:
        with self._lock:
            self.hits[path] += 1
            replies = self._scripts.get(path)
            if not replies:
                return None
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                reply = server._next_reply(path) or status(404)
                if not reply.answer:
                    self._reset()
                    return
                if reply.delay_before_headers and server._stop.wait(reply.delay_before_headers):
                    return
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                length = len(reply.body) if reply.content_length is None else reply.content_length
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if reply.send_bytes is None:
                    self.wfile.write(reply.body)
                    return
                self.wfile.write(reply.body[: reply.send_bytes])
                self.wfile.flush()
                if reply.after_cut == "reset":
                    self._reset()
                elif reply.after_cut == "stall":
                    server.stalling.set()
                    server._stop.wait(reply.stall_seconds)

            def _reset(self) -> None:
                """Close with SO_LINGER 0: the client sees a TCP reset, not a clean end."""
                self.request.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.request.close()
                self.close_connection = True

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - base signature
                pass

        return Handler
