"""The soak run of scripts/soak: chunks the model, starts weight-server with a cache smaller than
the model, runs `streaming-weights-bench soak-clients` against it, samples the server's RSS and
open descriptors every second, and prints a report (and a JSON line) with the checks."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def sample(pid):
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("minutes", nargs="?", type=float, default=10)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--cache-size", type=int, default=40, help="the server's cache, MB (MiniLM's chunks: 87 MB)")
    args = parser.parse_args()
    binary = Path(args.bin)
    with tempfile.TemporaryDirectory() as work:
        chunks = Path(work) / "chunks"
        subprocess.run([binary / "chunker", args.model, "--output-dir", str(chunks)], check=True, capture_output=True)
        server = subprocess.Popen([binary / "weight-server", "--chunks-dir", str(chunks), "--port", "0",
                                   "--cache-size", str(args.cache_size)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = server.stdout.readline().strip()
        samples = []
        done = threading.Event()

        def sampler():
            start = time.monotonic()
            while not done.is_set():
                samples.append((time.monotonic() - start, *sample(server.pid)))
                done.wait(1)

        thread = threading.Thread(target=sampler)
        thread.start()
        seconds = args.minutes * 60
        log(f"{args.clients} clients streaming from {url} (server cache {args.cache_size} MB) for {seconds:.0f} s")
        clients = subprocess.run([binary / "streaming-weights-bench", "soak-clients", "--server", url,
                                  "--chunks-dir", str(chunks), "--clients", str(args.clients),
                                  "--seconds", str(seconds)], capture_output=True, text=True)
        done.set()
        thread.join()
        time.sleep(2)  # the clients' connections close
        idle_rss, idle_fds = sample(server.pid)
        stats = subprocess.run([sys.executable, "-c", STATS, url], capture_output=True, text=True)
        server.terminate()
        server.wait(timeout=30)
    if clients.returncode != 0:
        print(clients.stderr, file=sys.stderr)
        sys.exit("soak-clients failed")
    result = json.loads(clients.stdout)
    served = json.loads(stats.stdout) if stats.returncode == 0 else {"error": stats.stderr.strip()}
    # Warm-up: the first tenth of the run (at least 10 s). After it the RSS must stay flat: the
    # last third of the samples may not run higher (median and peak) than the first third.
    warm = [s for s in samples if s[0] >= max(10, seconds / 10)] or samples
    third = max(1, len(warm) // 3)
    early, late = sorted(s[1] for s in warm[:third]), sorted(s[1] for s in warm[-third:])
    early_median, late_median = early[len(early) // 2], late[len(late) // 2]
    early_peak, late_peak = early[-1], late[-1]
    start_fds = samples[0][2]
    checks = [
        ("wrong outputs", result["wrong_outputs"] == 0),
        ("errors", not result["errors"]),
        ("RSS flat after warm-up (last third's median and peak <= first third's + 10% + 16 MiB)",
         late_median <= early_median * 1.1 + 16 and late_peak <= early_peak * 1.1 + 16),
        ("no descriptor leak (open descriptors once the clients left <= before they came)", idle_fds <= start_fds),
    ]
    print(f"soak: {seconds:.0f} s, {args.clients} clients, server cache {args.cache_size} MB")
    print(f"  forward passes checked: {result['forward_passes']}, wrong outputs: {result['wrong_outputs']}, "
          f"errors: {len(result['errors'])}")
    for error in result["errors"][:10]:
        print(f"    {error}")
    print(f"  server: {served}")
    print(f"  server RSS after warm-up, median (peak): first third {early_median:.0f} ({early_peak:.0f}) MiB, "
          f"last third {late_median:.0f} ({late_peak:.0f}) MiB; {idle_rss:.0f} MiB once the clients left")
    print(f"  server descriptors: {start_fds} before the clients, {max(s[2] for s in samples)} at most, "
          f"{idle_fds} once they left")
    print("  RSS over time (s, MiB, descriptors): " +
          ", ".join(f"{t:.0f}:{r:.0f}:{f}" for t, r, f in samples[::max(1, len(samples) // 12)]))
    for name, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(json.dumps({"seconds": seconds, "clients": args.clients, "forward_passes": result["forward_passes"],
                      "wrong_outputs": result["wrong_outputs"], "errors": len(result["errors"]),
                      "server": served, "rss_first_third_median_mib": early_median, "rss_last_third_median_mib": late_median,
                      "rss_first_third_peak_mib": early_peak, "rss_last_third_peak_mib": late_peak, "rss_idle_mib": idle_rss,
                      "fds_before": start_fds, "fds_after": idle_fds}))
    sys.exit(0 if all(ok for _, ok in checks) else 1)


# The server's stats answer, through the Python websockets client.
STATS = """
import asyncio, json, struct, sys
import websockets
async def main():
    async with websockets.connect(sys.argv[1], subprotocols=["streaming-weights.v1"], max_size=None) as ws:
        await ws.send(json.dumps({"id": 1, "op": "stats"}))
        message = await ws.recv()
        length = struct.unpack("<I", message[:4])[0]
        print(message[4 + length:].decode())
asyncio.run(main())
"""

if __name__ == "__main__":
    main()
