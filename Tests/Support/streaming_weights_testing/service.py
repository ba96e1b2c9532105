"""What the test services share: how one starts, says where it is, and stops.

A service here (s3_servers, nginx, cluster, fault_proxy, tcp_fault_proxy, metadata_server,
hub_mirror) is a process that a test or a script starts, that prints how to reach it as its first
line on stdout (a port, or one JSON line) and nothing else there, and that stops when told to: on
SIGTERM, SIGINT or SIGHUP, when its standard input reaches EOF (only when stdin is a pipe or a
socket: a test holds the write end and may just exit), or when its parent process exits.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import stat
import sys
import threading
from typing import Callable, TextIO

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int, exclude: set[int]) -> list[int]:
    """`count` different free ports, none of them in `exclude`."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in exclude and port not in ports:
            ports.append(port)
    return ports


def set_parent_death_signal(signum: int) -> None:
    """Asks Linux to send `signum` to this process when the thread that started it exits
    (prctl PR_SET_PDEATHSIG). Does nothing where there is no prctl."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def die_with_parent() -> None:
    """For `subprocess.Popen(preexec_fn=die_with_parent)`: runs in the child between fork and exec,
    so that the child is SIGKILLed when the service that started it dies, even by SIGKILL."""
    set_parent_death_signal(signal.SIGKILL)


def stop_with_parent() -> None:
    """Like die_with_parent, with SIGTERM: for a child that must clean up on the way out (nginx's
    master then stops its workers, which would otherwise outlive it and keep the port)."""
    set_parent_death_signal(signal.SIGTERM)


def start_service() -> TextIO:
    """Readies a process that starts servers and prints one line about them; returns the real
    stdout for that line (see announce).

    Only that line goes to stdout, whatever the libraries print (sys.stdout becomes stderr). A
    signal during startup raises SystemExit, so the caller's `finally` still cleans up; the parent
    may have spawned this process with these signals blocked (children would inherit that too), so
    they are unblocked.
    """
    stdout = sys.stdout
    sys.stdout = sys.stderr

    def exit_on_signal(signum, frame):
        raise SystemExit(128 + signum)
    for sig in STOP_SIGNALS:
        signal.signal(sig, exit_on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, list(STOP_SIGNALS))
    return stdout


def announce(stdout: TextIO, value) -> None:
    """Prints how to reach the service, as its one line on stdout, and flushes it: a dict or list
    as JSON, anything else (a port) as text."""
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    stdout.write(text + "\n")
    stdout.flush()


def stop_on_signals(stop: threading.Event) -> None:
    """From now on SIGTERM, SIGINT and SIGHUP set `stop` (instead of exiting at once)."""
    def on_signal(signum, frame):
        stop.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)


def watch_stdin(stop: threading.Event, log: Callable[[str], None] | None = None) -> None:
    """Sets `stop` when standard input reaches EOF, if it is a pipe or a socket (a terminal or
    /dev/null is not watched)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return

    def read_until_eof() -> None:
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except OSError:
            pass
        if log is not None:
            log("stdin reached EOF: stopping")
        stop.set()

    threading.Thread(target=read_until_eof, daemon=True).start()


def wait_until_told_to_stop() -> None:
    """Blocks until a stop signal, EOF on a piped stdin, or the parent process's exit."""
    stop = threading.Event()
    stop_on_signals(stop)
    watch_stdin(stop)
    parent = os.getppid()
    while not stop.is_set():
        stop.wait(0.5)
        if os.getppid() != parent:
            break
