#!/usr/bin/env python3
"""A weight-server cluster on 127.0.0.1: S3 as the source of truth, N weight servers, nginx in front.

Usage (scripts/cluster builds the binaries and chunks MiniLM first, then runs this):
  python -m streaming_weights_testing.cluster --chunks DIR --bin DIR [--servers 3]
      [--store moto|seaweedfs] [--prefix P] [--cache-size MB] [--port 0] [--workers 1]
      [--auth-token-file F] [--tls] [--tls-upstream]

1. starts the S3 store (s3_servers' moto, signatures enforced, or SeaweedFS) and
   uploads the chunk directory DIR under s3://chunks/PREFIX;
2. starts --servers `weight-server --s3 ...` processes reading that prefix, each on a free port;
3. starts nginx (deploy/nginx/weight-servers.conf) balancing WebSocket connections over them.

Prints one JSON line on stdout:
  {"url": "ws://127.0.0.1:PORT" (the proxy), "servers": [{"url", "port", "pid"}, ...],
   "nginx_pid", "s3": {endpoint, region, access_key, secret_key, bucket, ...}, "prefix",
   "source": "s3://chunks/PREFIX", "ca_file": the certificate (proxy's and servers') with --tls or
   --tls-upstream (with --tls, url is wss://; with --tls-upstream, the servers' urls are)}
and runs until SIGTERM/SIGINT/SIGHUP, stdin EOF (when a pipe) or the parent's exit; then stops
everything it started. A test may kill a server by its pid: the others and nginx go on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import subprocess
import sys

from streaming_weights_testing import nginx
from streaming_weights_testing.s3_servers import Moto, SeaweedFS, boto3_client
from streaming_weights_testing.service import announce, die_with_parent, start_service, wait_until_told_to_stop


def log(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


def upload(info: dict, directory: str, prefix: str) -> int:
    client = boto3_client("s3", info["endpoint"], info["access_key"], info["secret_key"])
    total = 0
    # Every file, those in folders too (a sentence-transformers model's 1_Pooling/config.json), under its relative path.
    for folder, _, names in sorted(os.walk(directory)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            key = os.path.relpath(path, directory).replace(os.sep, "/")
            client.upload_file(path, info["bucket"], f"{prefix}/{key}")
            total += os.path.getsize(path)
    return total


def start_server(binary: str, info: dict, prefix: str, cache_mb: int, token_file: str | None,
                 tls: tuple[str, str] | None) -> dict:
    args = [binary, "--s3", "--s3-bucket", info["bucket"], "--s3-prefix", prefix,
            "--s3-endpoint", info["endpoint"], "--s3-region", info["region"], "--port", "0",
            "--cache-size", str(cache_mb)]
    if token_file:
        args += ["--auth-token-file", token_file]
    if tls:
        args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": info["access_key"],
                   "AWS_SECRET_ACCESS_KEY": info["secret_key"], "AWS_EC2_METADATA_DISABLED": "true"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=environment,
                               text=True, preexec_fn=die_with_parent)
    url = process.stdout.readline().strip()
    if not url.startswith("ws"):
        process.wait(10)
        raise SystemExit(f"cluster: weight-server did not start (exit {process.returncode}); see its error above")
    return {"url": url, "port": int(url.rsplit(":", 1)[1]), "pid": process.pid, "process": process}


def main() -> int:
    parser = argparse.ArgumentParser(description="S3 + N weight servers + nginx on 127.0.0.1.")
    parser.add_argument("--chunks", required=True, help="the chunk directory to upload")
    parser.add_argument("--bin", required=True, help="the directory holding weight-server")
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--store", choices=["moto", "seaweedfs"], default="moto")
    parser.add_argument("--prefix", default=None, help="key prefix (default: the chunk directory's name)")
    parser.add_argument("--cache-size", type=int, default=256, help="each server's cache, MB")
    parser.add_argument("--port", type=int, default=0, help="nginx's port (0: a free one)")
    parser.add_argument("--workers", type=int, default=1, help="nginx worker processes")
    parser.add_argument("--auth-token-file", help="the servers ask for this bearer token")
    parser.add_argument("--tls", action="store_true",
                        help="nginx terminates TLS (a new self-signed certificate for 127.0.0.1): clients use wss://")
    parser.add_argument("--tls-upstream", action="store_true",
                        help="the servers serve wss:// too (the same certificate), and nginx verifies them")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.chunks, "chunk_info.json")):
        raise SystemExit(f"cluster: '{args.chunks}' holds no chunk_info.json: run the chunker first")
    binary = os.path.join(args.bin, "weight-server")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"cluster: no weight-server in '{args.bin}'")
    prefix = args.prefix or os.path.basename(os.path.normpath(args.chunks))

    stdout = start_service()

    certificates = None
    store = Moto(0, False) if args.store == "moto" else SeaweedFS(0, False, None)
    servers: list[dict] = []
    proxy = None
    try:
        info = store.start()
        size = upload(info, args.chunks, prefix)
        log(f"{args.store} at {info['endpoint']}: uploaded {size} bytes to s3://{info['bucket']}/{prefix}")
        certificates = tempfile.mkdtemp(prefix="streaming-weights-cluster-") if args.tls or args.tls_upstream else None
        certificate = nginx.self_signed_certificate(certificates) if certificates else None
        tls = certificate if args.tls else None
        upstream_tls = certificate if args.tls_upstream else None
        for _ in range(args.servers):
            servers.append(start_server(binary, info, prefix, args.cache_size, args.auth_token_file, upstream_tls))
        log("weight servers: " + ", ".join(s["url"] for s in servers))
        proxy = nginx.proxy([s["port"] for s in servers], args.port, args.workers, tls,
                            upstream_tls[0] if upstream_tls else None)
        proxy.start()
        url = f"{'wss' if tls else 'ws'}://127.0.0.1:{proxy.port}"
        log(f"nginx at {url}")
        summary = {
            "url": url,
            "servers": [{k: s[k] for k in ("url", "port", "pid")} for s in servers],
            "nginx_pid": proxy.process.pid,
            "s3": info,
            "prefix": prefix,
            "source": f"s3://{info['bucket']}/{prefix}",
            "ca_file": certificate[0] if certificate else None,
        }
        announce(stdout, summary)
        wait_until_told_to_stop()
    finally:
        if proxy:
            proxy.stop()
        if certificates:
            shutil.rmtree(certificates, ignore_errors=True)
        for server in servers:
            if server["process"].poll() is None:
                server["process"].terminate()
        for server in servers:
            try:
                server["process"].wait(10)
            except subprocess.TimeoutExpired:
                server["process"].kill()
        store.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
