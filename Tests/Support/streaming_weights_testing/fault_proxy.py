#!/usr/bin/env python3
"""A small HTTP/1.1 reverse proxy that injects faults, for the S3 client's tests.

Usage (stdlib only):
  python -m streaming_weights_testing.fault_proxy --upstream http://127.0.0.1:PORT [--port 0]
      [--match SUBSTRING] [fault options]

It listens on 127.0.0.1 and prints its port, alone, as the first line on stdout (flushed);
nothing else goes to stdout. Each request is forwarded to --upstream unchanged: the request
line (method, path and query) as sent, every header line byte for byte except the hop-by-hop
ones (Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade), the Host header included, and the
body (Content-Length only: a request with Transfer-Encoding answers 501). The client is
configured with the proxy's host:port as its endpoint, so the Host it signed with SigV4 is the
proxy's; it reaches upstream verbatim (moto does not compare Host with its own address). Every
response is sent with `Connection: close` and the connection is closed after it (no
keep-alive), its body streamed through in 64 KiB pieces, never held whole.

Faults apply to the requests whose request target (path and query) contains --match
(default: every request). With several faults given, a matching request gets the first that
still has a count left, in this order: hang, fail-status, reset. Counts are shared by all
connections and only count matching requests.
  --fail-status N [--fail-count K]   answer the first K (default 1) matching requests with HTTP
        N and an S3 error document (503 SlowDown, 500 InternalError, other statuses: see
        ERRORS; --fail-code CODE to choose), without contacting upstream; later ones are
        forwarded. A body the client sends is read and dropped first (not when it sent
        `Expect: 100-continue`: then the error is the answer to its headers).
  --reset-after BYTES [--reset-count K]   forward the first K (default 1) matching GET
        requests, but after the response headers and BYTES bytes of the body (or the whole body
        if it is shorter) wait until the client's kernel has acknowledged them, then close the
        client's connection abruptly: SO_LINGER 0, so it gets a TCP RST.
  --hang [--hang-count K]   read the request and never answer (K matching requests, default
        all of them), until the client closes the connection; closed after --hang-limit
        seconds (120) at most.

It runs until SIGTERM, SIGINT or SIGHUP; until its standard input reaches EOF, when stdin is a
pipe or a socket (a test holds the write end and may just exit); or until its parent process
exits (PR_SET_PDEATHSIG, and a check of getppid() every half second).

Stderr gets one line per request:
  fault_proxy: #3 GET /chunks/model.bin -> 200 forwarded, 0 request and 4194304 response body bytes
  fault_proxy: #4 GET /chunks/model.bin -> 503 fail-status (1 of 2), upstream not contacted
  fault_proxy: #5 GET /chunks/model.bin -> 200 reset (1 of 1): RST after 100000 of 4194304 body bytes
  fault_proxy: #6 GET /chunks/model.bin -> hang (1): client closed after 2.0 s
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import termios
import threading
import time
import urllib.parse
from email.utils import formatdate

from streaming_weights_testing.service import (announce, set_parent_death_signal, start_service, stop_on_signals,
                                               watch_stdin)

PIECE = 64 * 1024
MAX_HEAD = 64 * 1024
# Hop-by-hop headers (RFC 9110 7.6.1) dropped in both directions; Transfer-Encoding is kept in
# responses, whose bodies are relayed byte for byte until their end or upstream's EOF.
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate",
              b"proxy-authorization", b"te", b"trailer", b"upgrade"}
ERRORS = {
    400: ("InvalidRequest", "Invalid Request"),
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
    429: ("SlowDown", "Please reduce your request rate."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    501: ("NotImplemented", "A header you provided implies functionality that is not implemented."),
    502: ("BadGateway", "The proxy could not reach the upstream server."),
    503: ("SlowDown", "Please reduce your request rate."),
}
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
           429: "Too Many Requests", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def log(message: str) -> None:
    try:
        sys.stderr.write(f"fault_proxy: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class ClientGone(Exception):
    """The client closed its connection or it failed."""


# --------------------------------------------------------------------------------------------
# HTTP pieces


def read_head(sock: socket.socket, deadline: float | None = None, data: bytes = b"") -> tuple[bytes, bytes]:
    """Reads up to the blank line ending a message head: (head without it, bytes after it),
    `data` being what was already read.

    Raises ClientGone on EOF before a complete head, ValueError when it is too long."""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            return data[:end], data[end + 4:]
        if len(data) > MAX_HEAD:
            raise ValueError("head too long")
        if deadline is not None:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            piece = sock.recv(PIECE)
        except (OSError, socket.timeout) as e:
            raise ClientGone(str(e) or type(e).__name__) from e
        if not piece:
            raise ClientGone("closed before a complete head" if data else "closed")
        data += piece


def split_head(head: bytes) -> tuple[bytes, list[bytes]]:
    lines = head.split(b"\r\n")
    return lines[0], lines[1:]


def header_name(line: bytes) -> bytes:
    return line.split(b":", 1)[0].strip().lower()


def header_value(lines: list[bytes], name: bytes) -> bytes | None:
    for line in lines:
        if b":" in line and header_name(line) == name:
            return line.split(b":", 1)[1].strip()
    return None


def drop_hop_by_hop(lines: list[bytes], keep: set[bytes] = frozenset()) -> list[bytes]:
    listed = set()
    for line in lines:
        if b":" in line and header_name(line) == b"connection":
            listed |= {t.strip().lower() for t in line.split(b":", 1)[1].split(b",")}
    dropped = (HOP_BY_HOP | listed) - keep
    return [line for line in lines if b":" in line and header_name(line) not in dropped]


def error_response(status: int, code: str | None = None, message: str | None = None,
                   head_only: bool = False) -> bytes:
    default_code, default_message = ERRORS.get(status, ("InternalError", "Injected fault."))
    code = code or default_code
    message = message or default_message
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>").encode()
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            "Server: fault-proxy\r\n"
            "x-amz-request-id: fault-proxy\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    return head if head_only else head + body


def unsent_bytes(sock: socket.socket) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the peer (Linux SIOCOUTQ)."""
    buffer = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return struct.unpack("i", buffer)[0]


def close_gracefully(sock: socket.socket, drain_seconds: float = 1.0) -> None:
    """FIN, then read what the client still sends for a moment, so that unread bytes do not
    make the kernel answer with a RST that could destroy the response before it is read."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + drain_seconds
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(PIECE):
                break
    except (OSError, socket.timeout):
        pass
    finally:
        sock.close()


def close_abruptly(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


# --------------------------------------------------------------------------------------------
# The proxy


class Faults:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.lock = threading.Lock()
        self.hangs = 0
        self.fails = 0
        self.resets = 0
        self.requests = 0

    def next_number(self) -> int:
        with self.lock:
            self.requests += 1
            return self.requests

    def choose(self, method: str, target: str) -> tuple[str | None, str]:
        """Which fault this request gets: (None | "hang" | "fail" | "reset", count text)."""
        a = self.args
        if a.match is not None and a.match not in target:
            return None, ""
        with self.lock:
            if a.hang and (a.hang_count == 0 or self.hangs < a.hang_count):
                self.hangs += 1
                return "hang", f"{self.hangs}" + (f" of {a.hang_count}" if a.hang_count else "")
            if a.fail_status is not None and self.fails < a.fail_count:
                self.fails += 1
                return "fail", f"{self.fails} of {a.fail_count}"
            if a.reset_after is not None and method == "GET" and self.resets < a.reset_count:
                self.resets += 1
                return "reset", f"{self.resets} of {a.reset_count}"
        return None, ""


class Connection:
    def __init__(self, proxy: "Proxy", client: socket.socket, number: int):
        self.proxy = proxy
        self.args = proxy.args
        self.client = client
        self.number = number
        self.method = "-"
        self.target = "-"
        self.uploaded = 0  # request body bytes sent upstream

    def log(self, outcome: str) -> None:
        log(f"#{self.number} {self.method} {self.target} -> {outcome}")

    def run(self) -> None:
        try:
            self.handle()
        except ClientGone as e:
            self.log(f"client gone ({e})")
            self.client.close()
        except Exception as e:  # one connection's trouble must not stop the proxy
            self.log(f"proxy error {type(e).__name__}: {e}")
            close_abruptly(self.client)

    def handle(self) -> None:
        client = self.client
        try:
            head, rest = read_head(client, time.monotonic() + self.args.idle_timeout)
        except ValueError:
            client.sendall(error_response(431, "RequestHeaderSectionTooLarge", "Request header section too large."))
            close_gracefully(client)
            self.log("431 head too long")
            return
        request_line, lines = split_head(head)
        parts = request_line.split(b" ")
        if len(parts) != 3:
            client.sendall(error_response(400))
            close_gracefully(client)
            self.log(f"400 malformed request line {request_line[:100]!r}")
            return
        self.method = parts[0].decode("latin-1")
        self.target = parts[1].decode("latin-1")
        head_request = self.method == "HEAD"

        if header_value(lines, b"transfer-encoding") is not None:
            client.sendall(error_response(501, head_only=head_request))
            close_gracefully(client)
            self.log("501 Transfer-Encoding in a request is not supported")
            return
        length_value = header_value(lines, b"content-length")
        try:
            length = int(length_value) if length_value is not None else 0
            if length < 0:
                raise ValueError
        except ValueError:
            client.sendall(error_response(400, message="Bad Content-Length", head_only=head_request))
            close_gracefully(client)
            self.log(f"400 bad Content-Length {length_value!r}")
            return
        expects_continue = (header_value(lines, b"expect") or b"").lower() == b"100-continue"

        fault, count = self.proxy.faults.choose(self.method, self.target)
        if fault == "hang":
            self.hang(count)
        elif fault == "fail":
            if not expects_continue:
                self.discard_body(length - len(rest))
            status = self.args.fail_status
            client.sendall(error_response(status, self.args.fail_code, head_only=head_request))
            close_gracefully(client)
            self.log(f"{status} fail-status ({count}), upstream not contacted")
        else:
            self.forward(request_line, lines, rest, length, fault == "reset", count)

    def discard_body(self, remaining: int) -> None:
        deadline = time.monotonic() + self.args.idle_timeout
        while remaining > 0:
            self.client.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                piece = self.client.recv(min(PIECE, remaining))
            except (OSError, socket.timeout) as e:
                raise ClientGone(f"while reading the body: {e or type(e).__name__}") from e
            if not piece:
                raise ClientGone("closed during the body")
            remaining -= len(piece)

    def hang(self, count: str) -> None:
        """Reads whatever comes and never answers, until the client closes or the limit."""
        started = time.monotonic()
        deadline = started + self.args.hang_limit
        outcome = f"closed by the proxy (--hang-limit {self.args.hang_limit:g})"
        try:
            while time.monotonic() < deadline and not self.proxy.stopping.is_set():
                self.client.settimeout(min(0.5, max(0.01, deadline - time.monotonic())))
                try:
                    if not self.client.recv(PIECE):
                        outcome = "client closed"
                        break
                except socket.timeout:
                    continue
        except OSError as e:
            outcome = f"client connection failed ({e})"
        self.client.close()
        self.log(f"hang ({count}): {outcome} after {time.monotonic() - started:.1f} s")

    def forward(self, request_line: bytes, lines: list[bytes], rest: bytes, length: int,
                reset: bool, count: str) -> None:
        client = self.client
        head_request = self.method == "HEAD"
        try:
            upstream = socket.create_connection(self.proxy.upstream, timeout=10)
        except OSError as e:
            client.sendall(error_response(502, head_only=head_request))
            close_gracefully(client)
            self.log(f"502 upstream unreachable ({e})")
            return
        upstream.settimeout(self.args.idle_timeout)
        client.settimeout(self.args.idle_timeout)
        done = threading.Event()
        try:
            forwarded = drop_hop_by_hop(lines) + [b"Connection: close"]
            upstream.sendall(request_line + b"\r\n" + b"\r\n".join(forwarded) + b"\r\n\r\n")

            # The body goes up from a thread of its own: a client that sent
            # `Expect: 100-continue` sends it only after the 100 relayed below.
            pump = threading.Thread(target=self.pump_body, args=(upstream, rest, length, done),
                                    daemon=True)
            pump.start()

            # Interim 1xx responses are relayed as they are, then the final one.
            pending = b""
            while True:
                try:
                    head, body_start = read_head(upstream, data=pending)
                except (ClientGone, ValueError) as e:
                    done.set()
                    client.sendall(error_response(502, head_only=head_request))
                    close_gracefully(client)
                    self.log(f"502 no response from upstream ({e})")
                    return
                status_line, response_lines = split_head(head)
                try:
                    status = int(status_line.split(b" ")[1])
                except (IndexError, ValueError):
                    status = 0
                if 100 <= status < 200:
                    client.sendall(head + b"\r\n\r\n")
                    pending = body_start  # the start of the next head
                    continue
                break

            kept = drop_hop_by_hop(response_lines, keep={b"transfer-encoding"})
            client.sendall(status_line + b"\r\n" + b"\r\n".join(kept + [b"Connection: close"]) + b"\r\n\r\n")

            if head_request or status in (204, 304):
                body_length: int | None = 0
            else:
                value = header_value(response_lines, b"content-length")
                chunked = header_value(response_lines, b"transfer-encoding") is not None
                body_length = int(value) if value is not None and not chunked else None  # None: to EOF
            limit = self.args.reset_after if reset else None

            sent = 0
            piece = body_start
            while True:
                if body_length is not None:
                    piece = piece[: body_length - sent]
                if limit is not None:
                    piece = piece[: limit - sent]
                if piece:
                    try:
                        client.sendall(piece)
                    except OSError as e:
                        raise ClientGone(f"during the body, after {sent} bytes: {e}") from e
                    sent += len(piece)
                if (body_length is not None and sent >= body_length) or (limit is not None and sent >= limit):
                    break
                try:
                    piece = upstream.recv(PIECE)
                except (OSError, socket.timeout) as e:
                    self.log(f"{status} upstream failed after {sent} body bytes ({e}); closing abruptly")
                    close_abruptly(client)
                    return
                if not piece:
                    if body_length is not None:
                        self.log(f"{status} upstream closed after {sent} of {body_length} body bytes; closing abruptly")
                        close_abruptly(client)
                        return
                    break
            done.set()
            total = "?" if body_length is None else str(body_length)

            if reset:
                # Let the client's kernel acknowledge what was sent, so that exactly that much
                # reaches it; a RST discards whatever is still queued on this side.
                deadline = time.monotonic() + 5
                while unsent_bytes(client) > 0 and time.monotonic() < deadline:
                    time.sleep(0.005)
                close_abruptly(client)
                self.log(f"{status} reset ({count}): RST after {sent} of {total} body bytes")
                return
            pump.join(0.5)
            close_gracefully(client)
            self.log(f"{status} forwarded, {self.uploaded} request and {sent} response body bytes")
        finally:
            done.set()
            upstream.close()

    def pump_body(self, upstream: socket.socket, rest: bytes, length: int, done: threading.Event) -> None:
        remaining = length
        try:
            if rest:
                upstream.sendall(rest[:remaining])
                remaining -= min(len(rest), remaining)
                self.uploaded = length - remaining
            while remaining > 0 and not done.is_set():
                ready, _, _ = select.select([self.client], [], [], 0.2)
                if not ready:
                    continue
                piece = self.client.recv(min(PIECE, remaining))
                if not piece:
                    return
                upstream.sendall(piece)
                remaining -= len(piece)
                self.uploaded = length - remaining
        except (OSError, ValueError):
            pass  # upstream answered early and closed, or the client went: the main thread tells


class Proxy:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        parsed = urllib.parse.urlsplit(args.upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise SystemExit(f"--upstream must be http://HOST:PORT, not {args.upstream!r}")
        self.upstream = (parsed.hostname, parsed.port or 80)
        self.faults = Faults(args)
        self.stopping = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", args.port))
        self.listener.listen(128)

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def serve(self, parent: int) -> None:
        while not self.stopping.is_set():
            if os.getppid() != parent:
                log("parent process gone: stopping")
                break
            ready, _, _ = select.select([self.listener], [], [], 0.5)
            if not ready:
                continue
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = Connection(self, client, self.faults.next_number())
            threading.Thread(target=connection.run, daemon=True).start()
        self.stopping.set()
        self.listener.close()


def stop_when_parent_dies(parent: int, stop: threading.Event) -> None:
    """PR_SET_PDEATHSIG fires when the *thread* that started this process exits, which in a
    multithreaded test need not be the end of the process: the signal only stops the proxy
    when getppid() has changed, i.e. the parent process itself is gone."""
    def on_parent_death(signum, frame):
        if os.getppid() != parent:
            log("parent process gone (PR_SET_PDEATHSIG): stopping")
            stop.set()
        else:
            log("the thread that started this process exited, its process lives on: going on")

    signal.signal(signal.SIGUSR1, on_parent_death)
    set_parent_death_signal(signal.SIGUSR1)  # not Linux: the getppid() check in the accept loop still works


def main() -> int:
    parser = argparse.ArgumentParser(
        description="HTTP/1.1 reverse proxy injecting faults (prints its port on stdout).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--upstream", required=True, help="http://HOST:PORT of the real server")
    parser.add_argument("--port", type=int, default=0, help="port to listen on, 127.0.0.1 (0: a free one)")
    parser.add_argument("--match", help="faults apply only to requests whose path (with query) contains this")
    parser.add_argument("--fail-status", type=int, metavar="N", help="answer HTTP N with an S3 error document")
    parser.add_argument("--fail-count", type=int, default=1, metavar="K", help="for the first K matching requests (1)")
    parser.add_argument("--fail-code", metavar="CODE", help="the error document's Code (default by status: 503 SlowDown, 500 InternalError)")
    parser.add_argument("--reset-after", type=int, metavar="BYTES", help="GET: RST after the headers and BYTES body bytes")
    parser.add_argument("--reset-count", type=int, default=1, metavar="K", help="for the first K matching GET requests (1)")
    parser.add_argument("--hang", action="store_true", help="read the request, never answer")
    parser.add_argument("--hang-count", type=int, default=0, metavar="K", help="only the first K matching requests hang (0: all)")
    parser.add_argument("--hang-limit", type=float, default=120.0, metavar="SECONDS", help="a hanging connection is closed after this (120)")
    parser.add_argument("--idle-timeout", type=float, default=60.0, metavar="SECONDS", help="socket timeout for clients and upstream (60)")
    args = parser.parse_args()
    if args.hang_count:
        args.hang = True
    for name in ("fail_count", "reset_count", "hang_count", "reset_after"):
        value = getattr(args, name)
        if value is not None and value < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    if args.fail_status is not None and not 100 <= args.fail_status <= 599:
        parser.error("--fail-status must be an HTTP status")

    stdout = start_service()  # only the port goes to stdout
    parent = os.getppid()
    proxy = Proxy(args)
    stop_on_signals(proxy.stopping)
    stop_when_parent_dies(parent, proxy.stopping)
    watch_stdin(proxy.stopping, log)

    announce(stdout, proxy.port)
    faults = []
    if args.hang:
        faults.append(f"hang ({args.hang_count or 'all'})")
    if args.fail_status is not None:
        faults.append(f"fail-status {args.fail_status} x{args.fail_count}")
    if args.reset_after is not None:
        faults.append(f"reset-after {args.reset_after} x{args.reset_count}")
    log(f"listening on 127.0.0.1:{proxy.port} -> {args.upstream}; faults: {', '.join(faults) or 'none'}"
        + (f" for targets containing {args.match!r}" if args.match is not None else ""))
    proxy.serve(parent)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
