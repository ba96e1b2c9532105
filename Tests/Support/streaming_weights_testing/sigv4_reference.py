#!/usr/bin/env python3
"""Reference AWS Signature Version 4 signatures for S3, computed by botocore, for the Swift tests.

Usage (python -m streaming_weights_testing.sigv4_reference ...):
  < requests.json              header signing (botocore's S3SigV4Auth)
  --presign < requests.json    presigned URLs (botocore's S3SigV4QueryAuth)
  --self-test                  known AWS vectors plus a few printed examples

Input: a JSON list of requests. Each request has:
  method        "GET", "PUT", ...
  url           the URL as it goes on the wire: path and query already percent-encoded. botocore's
                S3 signer uses the path exactly as given (no normalisation, no re-encoding) and
                the query exactly as given (split on & and =, sorted, not re-encoded).
    or instead: endpoint ("http://127.0.0.1:9000"), bucket, key (raw, unencoded): the URL is
                built the way botocore's serializer builds it for path-style addressing:
                /<quote(bucket, safe='')>/<quote(key, safe='/~')>.
  query         optional list of [name, value] pairs (raw, unencoded), appended to the URL with
                botocore's percent_encode_sequence (quote with safe='-_.~', in the given order).
  headers       {name: value} or [[name, value], ...] (a list may repeat a name). Every header
                given is signed except connection, expect, keep-alive, proxy-authenticate,
                proxy-authorization, te, trailer, transfer-encoding, upgrade, user-agent and
                x-amzn-trace-id. Host is added from the URL when absent (port kept unless it is
                the scheme's default). Do not pass Date: botocore then signs with a rewritten
                Date header and drops X-Amz-Date.
  body_hex      the body, hex encoded (default empty); X-Amz-Content-SHA256 is its SHA-256
    or payload_hash
                the value to use as X-Amz-Content-SHA256 instead, e.g. "UNSIGNED-PAYLOAD" or
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" (ignored by --presign: always UNSIGNED-PAYLOAD)
  access_key, secret_key, session_token (optional), region, service (default "s3"),
  amz_date      "20250101T000000Z": the signing time (botocore.auth.get_current_datetime is
                patched to return it, so the output is deterministic)
  expires       --presign only: X-Amz-Expires in seconds (default 3600)

Output: a JSON list, one object per request:
  url, authorization (header mode), signature, signed_headers, canonical_request,
  string_to_sign, headers (the headers botocore added or replaced: X-Amz-Date,
  X-Amz-Content-SHA256, X-Amz-Security-Token, Authorization), all_headers (the request's
  final headers, as [name, value] pairs, host included), credential_scope.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import sys
from unittest import mock

import botocore.auth
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SIGV4_TIMESTAMP
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence


def _fixed_clock(amz_date: str):
    moment = datetime.datetime.strptime(amz_date, SIGV4_TIMESTAMP)
    return mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: moment)


def _header_pairs(headers) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, dict):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def build_url(spec: dict) -> str:
    if "url" in spec:
        url = spec["url"]
    else:
        endpoint = spec["endpoint"].rstrip("/")
        url = endpoint + "/" + percent_encode(spec["bucket"], safe="")
        if spec.get("key") is not None:
            # botocore's RestXMLSerializer for the greedy {Key+} label.
            url += "/" + percent_encode(spec["key"], safe="/~")
    query = spec.get("query")
    if query:
        encoded = percent_encode_sequence([(str(k), str(v)) for k, v in query])
        url += ("&" if "?" in url else "?") + encoded
    return url


def _make_request(spec: dict) -> AWSRequest:
    body = bytes.fromhex(spec.get("body_hex", "") or "")
    request = AWSRequest(method=spec["method"].upper(), url=build_url(spec), data=body)
    for name, value in _header_pairs(spec.get("headers")):
        request.headers[name] = value  # HTTPHeaders appends, so a repeated name stays repeated
    return request


def _signer_class(base, payload_hash):
    if payload_hash is None:
        return base

    class FixedPayload(base):
        def payload(self, request):
            return payload_hash

    return FixedPayload


def _credentials(spec: dict) -> Credentials:
    return Credentials(spec["access_key"], spec["secret_key"], spec.get("session_token"))


def sign(spec: dict) -> dict:
    cls = _signer_class(S3SigV4Auth, spec.get("payload_hash"))
    service, region = spec.get("service", "s3"), spec["region"]
    original = _make_request(spec)

    # botocore's own add_auth at the fixed time: the authoritative result.
    signed = copy.deepcopy(original)
    with _fixed_clock(spec["amz_date"]):
        cls(_credentials(spec), service, region).add_auth(signed)

    # The same steps by hand, to expose the intermediate strings (add_auth only logs them).
    probe = copy.deepcopy(original)
    auth = cls(_credentials(spec), service, region)
    probe.context["timestamp"] = spec["amz_date"]
    auth._modify_request_before_signing(probe)
    canonical_request = auth.canonical_request(probe)
    string_to_sign = auth.string_to_sign(probe, canonical_request)
    signature = auth.signature(string_to_sign, probe)
    signed_headers = auth.signed_headers(auth.headers_to_sign(probe))

    authorization = signed.headers["Authorization"]
    if not authorization.endswith("Signature=" + signature):
        raise AssertionError(f"add_auth and the manual steps disagree: {authorization} vs {signature}")

    before = {(k.lower(), v) for k, v in original.headers.items()}
    added = {k: v for k, v in signed.headers.items() if (k.lower(), v) not in before}
    all_headers = list(signed.headers.items())
    if "host" not in {k.lower() for k, _ in all_headers}:
        all_headers.insert(0, ("Host", botocore.auth._host_from_url(signed.url)))
    return {
        "url": signed.url,
        "authorization": authorization,
        "signature": signature,
        "signed_headers": signed_headers,
        "canonical_request": canonical_request,
        "string_to_sign": string_to_sign,
        "credential_scope": auth.credential_scope(probe),
        "headers": added,
        "all_headers": [[k, v] for k, v in all_headers],
    }


def presign(spec: dict) -> dict:
    service, region = spec.get("service", "s3"), spec["region"]
    expires = int(spec.get("expires", 3600))
    original = _make_request(spec)

    signed = copy.deepcopy(original)
    with _fixed_clock(spec["amz_date"]):
        S3SigV4QueryAuth(_credentials(spec), service, region, expires=expires).add_auth(signed)

    probe = copy.deepcopy(original)
    auth = S3SigV4QueryAuth(_credentials(spec), service, region, expires=expires)
    probe.context["timestamp"] = spec["amz_date"]
    auth._modify_request_before_signing(probe)
    canonical_request = auth.canonical_request(probe)
    string_to_sign = auth.string_to_sign(probe, canonical_request)
    signature = auth.signature(string_to_sign, probe)
    if not signed.url.endswith("X-Amz-Signature=" + signature):
        raise AssertionError(f"add_auth and the manual steps disagree: {signed.url} vs {signature}")
    return {
        "url": signed.url,
        "signature": signature,
        "signed_headers": auth.signed_headers(auth.headers_to_sign(probe)),
        "canonical_request": canonical_request,
        "string_to_sign": string_to_sign,
        "credential_scope": auth.credential_scope(probe),
    }


# Examples from the Amazon S3 API Reference ("Signature Calculations for the Authorization
# Header" and "Authenticating Requests: Using Query Parameters"), virtual-hosted style.
AWS_DOC_KEY = {
    "access_key": "AKIAIOSFODNN7EXAMPLE",
    "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
    "service": "s3",
    "amz_date": "20130524T000000Z",
}
AWS_DOC_VECTORS = [
    ("GET object with Range", False, {
        "method": "GET", "url": "https://examplebucket.s3.amazonaws.com/test.txt",
        "headers": {"Range": "bytes=0-9"},
    }, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    ("GET bucket lifecycle", False, {
        "method": "GET", "url": "https://examplebucket.s3.amazonaws.com/?lifecycle",
    }, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    ("GET bucket list objects", False, {
        "method": "GET", "url": "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J",
    }, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ("presigned GET", True, {
        "method": "GET", "url": "https://examplebucket.s3.amazonaws.com/test.txt",
        "expires": 86400,
    }, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
]

EXAMPLE_KEY = {
    "access_key": "AKIDEXAMPLE",
    "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
    "service": "s3",
    "amz_date": "20250101T000000Z",
}
EXAMPLES = [
    ("key with space, +, =, unicode, ~ (path-style)", False, {
        "method": "GET", "endpoint": "http://127.0.0.1:9000", "bucket": "chunks",
        "key": "dir one/a+b=c~d/ünï cødé.bin",
    }),
    ("ListObjectsV2 query (raw pairs, encoded by botocore)", False, {
        "method": "GET", "endpoint": "http://127.0.0.1:9000", "bucket": "chunks",
        "query": [["list-type", "2"], ["prefix", "dir one/a+b"], ["max-keys", "2"],
                  ["continuation-token", "1/abc+def=="], ["delimiter", "/"]],
    }),
    ("PUT with body, Content-Type and a session token", False, {
        "method": "PUT", "endpoint": "http://127.0.0.1:9000", "bucket": "chunks",
        "key": "shard-00001.bin", "body_hex": b"hello world\n".hex(),
        "headers": {"Content-Type": "application/octet-stream", "Content-Length": "12"},
        "session_token": "FQoGZXIvYXdzE//////////wEaDEXAMPLE+/=",
    }),
    ("UNSIGNED-PAYLOAD with Range, a repeated header and ?uploads-style bare query", False, {
        "method": "GET", "url": "http://127.0.0.1:9000/chunks/shard%20one.bin?uploads",
        "headers": [["Range", "bytes=0-1023"], ["X-Amz-Meta-Tag", "a"],
                    ["X-Amz-Meta-Tag", "  b   c "]],
        "payload_hash": "UNSIGNED-PAYLOAD",
    }),
    ("presigned GET of a key with space and unicode", True, {
        "method": "GET", "endpoint": "http://127.0.0.1:9000", "bucket": "chunks",
        "key": "dir one/ünï~.bin", "expires": 900,
    }),
]


def self_test() -> int:
    failures = 0
    for name, is_presign, request, expected in AWS_DOC_VECTORS:
        spec = {**AWS_DOC_KEY, **request}
        result = presign(spec) if is_presign else sign(spec)
        ok = result["signature"] == expected
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} AWS doc vector: {name}: {result['signature']}")
        if not ok:
            print(f"     expected {expected}\n{result['canonical_request']}")

    # The path is used verbatim: no dot-segment removal, no slash merging, no re-encoding.
    weird = sign({**EXAMPLE_KEY, "method": "GET",
                  "url": "http://127.0.0.1:9000/chunks/a/./b/../c//d%2Fe"})
    path_ok = weird["canonical_request"].split("\n")[1] == "/chunks/a/./b/../c//d%2Fe"
    failures += not path_ok
    print(f"{'ok  ' if path_ok else 'FAIL'} S3 paths are not normalised or re-encoded")

    for name, is_presign, request in EXAMPLES:
        spec = {**EXAMPLE_KEY, **request}
        result = presign(spec) if is_presign else sign(spec)
        print(f"\n--- {name}\nrequest: {json.dumps(spec, ensure_ascii=False)}")
        print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"\n{len(AWS_DOC_VECTORS) + 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presign", action="store_true", help="produce presigned URLs")
    parser.add_argument("--self-test", action="store_true", help="check known vectors and print examples")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    specs = json.load(sys.stdin)
    if isinstance(specs, dict):
        specs = [specs]
    results = [presign(s) if args.presign else sign(s) for s in specs]
    json.dump(results, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
