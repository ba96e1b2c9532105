#!/usr/bin/env python3
"""A local stand-in for the AWS credential services, for the credential chain's tests: the EC2
instance metadata service (IMDSv2) and the ECS container credentials endpoint. Neither can run
off AWS, and 169.254.169.254 is never a target from here, so the tests point the chain at this.

usage: python -m streaming_weights_testing.metadata_server --access-key K --secret-key S [--token T]
           [--expires-in SECONDS] [--container-token AUTH]
Prints its port as the first line on stdout; runs until stdin reaches EOF or SIGTERM.

  PUT /latest/api/token                       needs X-aws-ec2-metadata-token-ttl-seconds; answers the session token
  GET /latest/meta-data/iam/security-credentials/         needs the session token; answers "test-role"
  GET /latest/meta-data/iam/security-credentials/test-role  the credentials JSON
  GET /container-credentials                  needs Authorization: AUTH; the credentials JSON
  GET /stats                                  {"credentials_served": N}
The credentials JSON: {"AccessKeyId", "SecretAccessKey", "Token", "Expiration": now + expires-in}.
"""

import argparse
import datetime
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from streaming_weights_testing.service import announce

SESSION = "imds-session-token"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--expires-in", type=int, default=3600)
    parser.add_argument("--container-token", default="container-secret")
    options = parser.parse_args()
    served = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body, content_type="application/json"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def credentials(self):
            with lock:
                served[0] += 1
            expiration = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=options.expires_in)
            self.answer(200, json.dumps({
                "Code": "Success", "AccessKeyId": options.access_key, "SecretAccessKey": options.secret_key,
                "Token": options.token, "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }))

        def do_PUT(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                self.answer(200, SESSION, "text/plain")
            else:
                self.answer(400, "bad token request", "text/plain")

        def do_GET(self):
            base = "/latest/meta-data/iam/security-credentials/"
            if self.path.startswith(base):
                if self.headers.get("X-aws-ec2-metadata-token") != SESSION:
                    self.answer(401, "", "text/plain")
                elif self.path == base:
                    self.answer(200, "test-role", "text/plain")
                elif self.path == base + "test-role":
                    self.credentials()
                else:
                    self.answer(404, "", "text/plain")
            elif self.path == "/container-credentials":
                if self.headers.get("Authorization") != options.container_token:
                    self.answer(403, json.dumps({"message": "wrong token"}))
                else:
                    self.credentials()
            elif self.path == "/stats":
                with lock:
                    self.answer(200, json.dumps({"credentials_served": served[0]}))
            else:
                self.answer(404, "", "text/plain")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    announce(sys.stdout, server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
