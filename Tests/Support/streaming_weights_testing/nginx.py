#!/usr/bin/env python3
"""Runs Debian's nginx on 127.0.0.1 from a config under deploy/nginx/, and prints how to reach it.

Usage (python -m streaming_weights_testing.nginx ...):
  static DIR [--port 0]                 serve chunk directory DIR at http://127.0.0.1:PORT/chunks
  proxy PORT [PORT ...] [--port 0] [--workers 1]
                                        a WebSocket load balancer over weight servers on those ports

Printed (one JSON line on stdout): {"url": ..., "port": ..., "pid": ..., "prefix": ...}. nginx then
runs until SIGTERM/SIGINT/SIGHUP, until stdin reaches EOF (when it is a pipe), or until the parent
exits; its prefix directory (config, logs, temporary files) is removed on the way out.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streaming_weights_testing.service import (announce, free_port, start_service, stop_with_parent,
                                               wait_until_told_to_stop)

# This file is Tests/Support/streaming_weights_testing/nginx.py in the repository.
DEPLOY = str(Path(__file__).resolve().parents[3] / "deploy" / "nginx")


def log(message: str) -> None:
    print(f"nginx.py: {message}", file=sys.stderr, flush=True)


def nginx_binary() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit("nginx.py: no nginx binary: scripts/bootstrap installs Debian's nginx-light")


def remove_stale_prefixes() -> None:
    """Removes the prefix directories of nginx instances gone without cleaning up (their helper was
    SIGKILLed): older than a minute, and no live process in their nginx.pid."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "streaming-weights-nginx-*")):
        try:
            if time.time() - os.path.getmtime(path) < 60:
                continue
            pid = int(open(os.path.join(path, "nginx.pid")).read().strip() or 0)
            os.kill(pid, 0)
            if open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z":
                raise ProcessLookupError
        except PermissionError:
            continue  # alive, another user's
        except (OSError, ValueError):
            shutil.rmtree(path, ignore_errors=True)


class Nginx:
    """One nginx master in the foreground, with its own prefix directory."""

    def __init__(self, template: str, values: dict[str, str], port: int):
        remove_stale_prefixes()
        self.port = port
        self.prefix = tempfile.mkdtemp(prefix="streaming-weights-nginx-")
        text = open(os.path.join(DEPLOY, template)).read()
        # Workers run as root only when the master does (tests' temporary directories are 0700).
        values = {"PREFIX": self.prefix, "USER": "user root;" if os.geteuid() == 0 else "", **values}
        for name, value in values.items():
            text = text.replace(f"@@{name}@@", value)
        left = re.search(r"@@[A-Z_]+@@", text)
        if left:
            raise SystemExit(f"nginx.py: {template} has a placeholder left: {left.group(0)}")
        self.config = os.path.join(self.prefix, "nginx.conf")
        with open(self.config, "w") as f:
            f.write(text)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = nginx_binary()
        # -e: nginx opens its error log before reading the config, by default under /var/log.
        log_file = os.path.join(self.prefix, "error.log")
        check = subprocess.run([binary, "-t", "-q", "-e", log_file, "-p", self.prefix, "-c", self.config],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit(f"nginx.py: the rendered config is invalid: {check.stderr.strip()}")
        self.process = subprocess.Popen(
            [binary, "-e", log_file, "-p", self.prefix, "-c", self.config, "-g", "daemon off;"],
            # SIGTERM the master when this helper dies, even by SIGKILL: it then stops its workers.
            stdin=subprocess.DEVNULL, preexec_fn=stop_with_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"nginx.py: nginx exited with {self.process.returncode}: {self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise SystemExit(f"nginx.py: nginx did not listen on 127.0.0.1:{self.port} within 10 s")

    def error_log(self) -> str:
        try:
            return open(os.path.join(self.prefix, "error.log")).read()[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)


def static(directory: str, port: int = 0) -> Nginx:
    """nginx serving `directory` under /chunks/."""
    port = port or free_port()
    return Nginx("static-chunks.conf",
                 {"LISTEN": f"127.0.0.1:{port}", "CHUNKS": os.path.abspath(directory)}, port)


def proxy(upstream_ports: list[int], port: int = 0, workers: int = 1, tls: tuple[str, str] | None = None,
          upstream_ca: str | None = None) -> Nginx:
    """nginx balancing WebSocket connections over weight servers on `upstream_ports`. With `tls` (a certificate
    and key file), clients connect with wss://; with `upstream_ca`, nginx talks wss:// to the servers and verifies
    their certificates against that CA (for the name localhost: nginx checks names, not IP addresses), else ws://."""
    port = port or free_port()
    upstreams = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in upstream_ports)
    tls_lines = ""
    if tls:
        tls_lines = (f"        ssl_certificate {tls[0]};\n        ssl_certificate_key {tls[1]};\n"
                     "        ssl_protocols TLSv1.2 TLSv1.3;")
    upstream_tls = ""
    if upstream_ca:
        upstream_tls = (f"            proxy_ssl_verify on;\n            proxy_ssl_trusted_certificate {upstream_ca};\n"
                        "            proxy_ssl_name localhost;\n            proxy_ssl_protocols TLSv1.2 TLSv1.3;")
    return Nginx("weight-servers.conf",
                 {"LISTEN": f"127.0.0.1:{port}" + (" ssl" if tls else ""), "UPSTREAMS": upstreams,
                  "WORKERS": str(workers), "TLS": tls_lines, "UPSTREAM_SCHEME": "https" if upstream_ca else "http",
                  "UPSTREAM_TLS": upstream_tls}, port)


def self_signed_certificate(directory: str) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and localhost, and its key, written into `directory` (openssl)."""
    cert, key = os.path.join(directory, "proxy.pem"), os.path.join(directory, "proxy.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def main() -> int:
    parser = argparse.ArgumentParser(description="Run nginx from deploy/nginx/ and print how to reach it.")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("static")
    s.add_argument("directory")
    s.add_argument("--port", type=int, default=0)
    p = sub.add_parser("proxy")
    p.add_argument("ports", type=int, nargs="+")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    stdout = start_service()
    if args.mode == "static":
        if not os.path.isdir(args.directory):
            raise SystemExit(f"nginx.py: '{args.directory}' is not a directory")
        server = static(args.directory, args.port)
        url = f"http://127.0.0.1:{server.port}/chunks"
    else:
        server = proxy(args.ports, args.port, args.workers)
        url = f"ws://127.0.0.1:{server.port}"
    try:
        server.start()
        announce(stdout, {"url": url, "port": server.port, "pid": server.process.pid, "prefix": server.prefix})
        wait_until_told_to_stop()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
