#!/usr/bin/env python3
"""A TCP proxy that injects faults into a WebSocket link, for the reliability tests
(docs/RELIABILITY.md).

Usage (stdlib only):
  python -m streaming_weights_testing.tcp_fault_proxy --upstream HOST:PORT [--port 0] [fault options]

It listens on 127.0.0.1 and prints its port, alone, as the first line on stdout (flushed). Each
accepted connection is joined to a new connection to --upstream, and bytes are copied both ways
unchanged except for the faults below. Faults that name a byte offset count the bytes sent from
upstream to the client on that connection, and apply to the first K connections only (default
1; --connections K), so that a client that reconnects gets a clean link.
  --latency MS            hold every piece in both directions for MS milliseconds (all connections)
  --bandwidth BYTES       at most BYTES per second from upstream to the client (all connections)
  --cut-after N           after N bytes to the client, close both sides abruptly (TCP RST: the
                          client's kernel drops what it had received and not yet read)
  --close-after N         after N bytes to the client, close both sides in order (FIN: the client
                          reads all N bytes, then the end of the stream)
  --flip-at N             flip the lowest bit of the byte at offset N to the client
  --stall-after N         after N bytes to the client, stop copying in both directions but keep
                          both connections open (a half-open link: the client hears nothing)
  --connections K         how many connections the offset faults apply to (0: all)
A line per connection and fault goes to stderr.
"""
import argparse
import asyncio
import socket
import struct
import sys

from streaming_weights_testing.service import announce


def log(message):
    print(f"tcp_fault_proxy: {message}", file=sys.stderr, flush=True)


class Proxy:
    def __init__(self, options):
        self.options = options
        self.accepted = 0

    def faulty(self, number):
        return self.options.connections == 0 or number <= self.options.connections

    async def handle(self, client_reader, client_writer):
        self.accepted += 1
        number = self.accepted
        host, port = self.options.upstream.rsplit(":", 1)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        except OSError as error:
            log(f"#{number}: upstream refused ({error}); closing the client")
            client_writer.close()
            return
        stalled = asyncio.Event()
        faults = self.faulty(number)
        await asyncio.gather(
            self.copy(number, upstream_reader, client_writer, to_client=True, faults=faults, stalled=stalled,
                      other=upstream_writer),
            self.copy(number, client_reader, upstream_writer, to_client=False, faults=faults, stalled=stalled,
                      other=client_writer),
            return_exceptions=True)

    async def copy(self, number, reader, writer, to_client, faults, stalled, other):
        options = self.options
        sent = 0
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if stalled.is_set():
                    await asyncio.Event().wait()  # half-open: never copy again
                if options.latency:
                    await asyncio.sleep(options.latency / 1000)
                if to_client and faults:
                    end = sent + len(data)
                    if options.flip_at is not None and sent <= options.flip_at < end:
                        index = options.flip_at - sent
                        data = data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]
                        log(f"#{number}: flipped a bit at byte {options.flip_at}")
                    for limit, kind in ((options.cut_after, "cut"), (options.close_after, "close"),
                                        (options.stall_after, "stall")):
                        if limit is not None and sent <= limit < end:
                            writer.write(data[:limit - sent])
                            await writer.drain()
                            if kind in ("cut", "close"):
                                log(f"#{number}: {kind} after {limit} bytes")
                                for stream in (writer, other):
                                    sock = stream.get_extra_info("socket")
                                    if sock is not None and kind == "cut":
                                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                                    stream.close()
                                return
                            log(f"#{number}: stalled after {limit} bytes")
                            stalled.set()
                            await asyncio.Event().wait()
                if to_client and options.bandwidth:
                    for start in range(0, len(data), 16384):
                        piece = data[start:start + 16384]
                        writer.write(piece)
                        await writer.drain()
                        await asyncio.sleep(len(piece) / options.bandwidth)
                else:
                    writer.write(data)
                    await writer.drain()
                sent += len(data)
        except (ConnectionError, OSError):
            pass
        finally:
            if not stalled.is_set():
                writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0)
    parser.add_argument("--bandwidth", type=float, default=0)
    parser.add_argument("--cut-after", type=int)
    parser.add_argument("--close-after", type=int)
    parser.add_argument("--flip-at", type=int)
    parser.add_argument("--stall-after", type=int)
    parser.add_argument("--connections", type=int, default=1)
    options = parser.parse_args()
    proxy = Proxy(options)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", options.port)
    announce(sys.stdout, server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
