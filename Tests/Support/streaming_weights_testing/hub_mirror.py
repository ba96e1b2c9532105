"""A local stand-in for the Hugging Face Hub's HTTP interface, for tests.

    python -m streaming_weights_testing.hub_mirror --root DIR [--port N] [--token T]
        [--redirect-over BYTES] [--fail-once-after BYTES] [--cdn-host HOST] [--pointer-etag] [--print-port]

DIR holds one folder per repository, `DIR/ORG/NAME/<files>` (files may sit in sub-folders). The
server binds 127.0.0.1:N (N = 0 picks a free port). With --print-port, or when N is 0, it prints
the port on stdout as one line before serving. Each request is logged on stderr as one line:
method, path, Range, whether an Authorization header came, status, body bytes sent. SIGTERM or
SIGINT stops it cleanly (exit 0).

What it serves (the shapes huggingface_hub 2.4.0's `hf_hub_download`, `snapshot_download`,
`model_info` and `list_repo_tree` read; see the report in the brief's answer for the details):

HEAD/GET /{org}/{name}/resolve/{revision}/{path}
    revision is `main` or the repository's commit (below); anything else is
    404 `X-Error-Code: RevisionNotFound`.
    Every response for an existing repository carries `X-Repo-Commit: <commit>`.
    A file of at most --redirect-over bytes (default 1 MiB) is served directly: 200 (206 for a
    Range), `ETag: "<git blob sha1>"`, `Content-Length`, `Accept-Ranges: bytes`.
    A larger file ("LFS") answers 302 with `Location: /lfs-blobs/<sha256>` (relative; with
    --cdn-host HOST it is absolute, `http://HOST:PORT/lfs-blobs/<sha256>`, a different origin, as the
    real Hub's CDN is), `X-Linked-Etag: "<sha256>"`, `X-Linked-Size: <size>`,
    `ETag: "<sha256>"` (with --pointer-etag: the git blob sha1 of the LFS pointer file, as the
    real Hub sends, so a client that prefers ETag over X-Linked-Etag is caught), and an empty body.
HEAD/GET /lfs-blobs/<sha256>
    the bytes, `ETag: "<sha256>"`, `X-Repo-Commit` of the (first) repository holding the blob,
    `Content-Length`, `Accept-Ranges: bytes`. Never asks for a token (a signed CDN URL).
Range (on both of the above): `bytes=N-`, `bytes=N-M`, `bytes=-K` give 206 with
    `Content-Range: bytes N-M/SIZE`; an unsatisfiable range gives 416 `Content-Range: bytes */SIZE`.
GET /api/models/{org}/{name}[/revision/{revision}]
    model_info's JSON: `{"_id", "id", "modelId", "author", "sha", "private": false,
    "disabled": false, "gated": false, "lastModified", "tags": [], "siblings": [{"rfilename"}...]}`;
    with `?blobs=true` each sibling also has `size`, `blobId` and, for LFS files,
    `lfs: {"size", "sha256", "pointerSize"}`.
GET /api/models/{org}/{name}/tree/{revision}[/{folder}][?recursive=true]
    list_repo_tree's JSON list: `{"type": "file", "oid": <git blob sha1, of the pointer for LFS
    files>, "size": <real size>, "path", "lfs": {"oid": <sha256>, "size", "pointerSize"}}` and
    `{"type": "directory", "oid", "size": 0, "path"}`; one page, no `Link` header.

Errors: a missing file is 404 `X-Error-Code: EntryNotFound` (with X-Repo-Commit, which
huggingface_hub uses to cache the absence under `.no_exist/<commit>/`); a missing repository is
`X-Error-Code: RepoNotFound` (huggingface_hub maps exactly that code, not "RepositoryNotFound", to
RepositoryNotFoundError), status 401 when the request had no Authorization header (as the real
Hub answers anonymous requests) and 404 when it had one. With --token T, a request to a resolve or
api path without `Authorization: Bearer T` gets 401: `X-Error-Code: RepoNotFound` when no
Authorization header came (RepositoryNotFoundError), `X-Error-Message: Invalid credentials in
Authorization header` and no code when a wrong one came (a plain HfHubHTTPError, as the Hub does).
Error bodies are `{"error": "..."}`.

--fail-once-after BYTES: the first GET of each file body (keyed by its sha256, so the resolve path
and the blob path count together) that would send more than BYTES bytes sends its headers with the
full Content-Length, then BYTES bytes, then closes the connection; later GETs are whole. Used to
test resuming with `Range: bytes=N-`.

The commit of a repository is the sha1 of the lines `<path>\\t<size>\\t<git blob sha1>\\n` of its
files sorted by path: deterministic, and it changes when any file does.
"""

import argparse
import hashlib
import json
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from streaming_weights_testing.service import announce

LAST_MODIFIED = "2026-01-01T00:00:00.000Z"
LOG_LOCK = threading.Lock()
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def log(message):
    with LOG_LOCK:
        sys.stderr.write(f"hub-mirror: {message}\n")
        sys.stderr.flush()


def lfs_pointer(sha256, size):
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


class RepoFile:
    def __init__(self, path, disk_path, redirect_over):
        data = disk_path.read_bytes()
        self.path = path
        self.disk_path = disk_path
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.blob_sha1 = git_blob_sha1(data)
        self.lfs = self.size > redirect_over
        pointer = lfs_pointer(self.sha256, self.size)
        self.pointer_size = len(pointer)
        self.pointer_sha1 = git_blob_sha1(pointer)

    def tree_entry(self):
        entry = {"type": "file", "oid": self.pointer_sha1 if self.lfs else self.blob_sha1, "size": self.size,
                 "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return entry


class Repo:
    def __init__(self, repo_id, folder, redirect_over):
        self.repo_id = repo_id
        self.files = {}
        for disk_path in sorted(folder.rglob("*")):
            if disk_path.is_file():
                relative = disk_path.relative_to(folder).as_posix()
                self.files[relative] = RepoFile(relative, disk_path, redirect_over)
        listing = "".join(f"{f.path}\t{f.size}\t{f.blob_sha1}\n" for f in sorted(self.files.values(),
                                                                              key=lambda f: f.path))
        self.commit = hashlib.sha1(listing.encode()).hexdigest()

    def folders(self):
        names = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                names.add("/".join(parts[:i]))
        return names


def load_repos(root, redirect_over):
    repos = {}
    for org in sorted(p for p in root.iterdir() if p.is_dir()):
        for name in sorted(p for p in org.iterdir() if p.is_dir()):
            repo_id = f"{org.name}/{name.name}"
            repos[repo_id] = Repo(repo_id, name, redirect_over)
    return repos


class Mirror(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, options):
        self.options = options
        self.repos = load_repos(Path(options.root), options.redirect_over)
        self.blobs = {}
        for repo in self.repos.values():
            for f in repo.files.values():
                self.blobs.setdefault(f.sha256, (repo, f))
        self.failed_once = set()
        self.lock = threading.Lock()
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hub-mirror/1"

    # --- plumbing -------------------------------------------------------------------------------

    def log_message(self, format, *args):  # the default access log is replaced by log_request_line
        pass

    def log_request_line(self, status, sent):
        auth = "auth" if self.headers.get("Authorization") else "no-auth"
        rng = self.headers.get("Range") or "-"
        log(f"{self.command} {self.path} range={rng} {auth} -> {status} ({sent} body bytes)")

    def send_head(self, status, headers, length):
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def reply(self, status, headers=(), body=b""):
        self.send_head(status, headers, len(body))
        sent = 0
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            sent = len(body)
        self.log_request_line(status, sent)

    def reply_json(self, value, status=200, headers=()):
        body = json.dumps(value, indent=None, separators=(",", ":")).encode()
        self.reply(status, [("Content-Type", "application/json; charset=utf-8"), *headers], body)

    def error(self, status, message, code=None, headers=()):
        extra = list(headers)
        if code is not None:
            extra.append(("X-Error-Code", code))
        extra.append(("X-Error-Message", message))
        self.reply_json({"error": message}, status, extra)

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    # --- auth -----------------------------------------------------------------------------------

    def authorised(self):
        """True if the request may proceed, else sends the 401 and returns False."""
        token = self.server.options.token
        if token is None:
            return True
        given = self.headers.get("Authorization")
        if given == f"Bearer {token}":
            return True
        if given is None:
            self.error(401, "Invalid username or password.", "RepoNotFound")
        else:
            self.error(401, "Invalid credentials in Authorization header")
        return False

    def repo_not_found(self):
        status = 404 if self.headers.get("Authorization") else 401
        self.error(status, "Repository not found", "RepoNotFound")

    # --- routing --------------------------------------------------------------------------------

    def route(self):
        try:
            split = urlsplit(self.path)
            query = parse_qs(split.query)
            parts = [unquote(p) for p in split.path.split("/")[1:]]
            if any(p in ("", ".", "..") for p in parts[:-1]) or any("\\" in p or "\0" in p for p in parts):
                return self.error(400, "Bad path")
            if len(parts) == 2 and parts[0] == "lfs-blobs":
                return self.serve_blob(parts[1])
            if len(parts) >= 5 and parts[2] == "resolve":
                if not self.authorised():
                    return
                return self.serve_resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]))
            if len(parts) >= 4 and parts[:2] == ["api", "models"]:
                if self.command != "GET":
                    return self.error(405, "Method not allowed")
                if not self.authorised():
                    return
                return self.serve_api(f"{parts[2]}/{parts[3]}", parts[4:], query)
            self.error(404, "Not found")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def find_repo(self, repo_id, revision):
        """The repo, or None after sending the error."""
        repo = self.server.repos.get(repo_id)
        if repo is None:
            self.repo_not_found()
            return None
        if revision not in ("main", repo.commit):
            self.error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            return None
        return repo

    def serve_resolve(self, repo_id, revision, path):
        repo = self.find_repo(repo_id, revision)
        if repo is None:
            return
        commit = [("X-Repo-Commit", repo.commit)]
        f = repo.files.get(path)
        if f is None:
            return self.error(404, "Entry not found", "EntryNotFound", commit)
        if f.lfs:
            options = self.server.options
            location = f"/lfs-blobs/{f.sha256}"
            if options.cdn_host:
                location = f"http://{options.cdn_host}:{self.server.server_address[1]}{location}"
            etag = f.pointer_sha1 if options.pointer_etag else f.sha256
            return self.reply(302, [*commit, ("ETag", f'"{etag}"'), ("X-Linked-Etag", f'"{f.sha256}"'),
                                    ("X-Linked-Size", str(f.size)), ("Location", location),
                                    ("Accept-Ranges", "bytes")])
        self.serve_bytes(f, [*commit, ("ETag", f'"{f.blob_sha1}"')])

    def serve_blob(self, sha256):
        entry = self.server.blobs.get(sha256) if SHA256_RE.match(sha256) else None
        if entry is None:
            return self.error(404, "Blob not found")
        repo, f = entry
        self.serve_bytes(f, [("X-Repo-Commit", repo.commit), ("ETag", f'"{f.sha256}"')])

    def parse_range(self, size):
        """(start, end) inclusive, None for the whole file, or "bad" when unsatisfiable."""
        header = self.headers.get("Range")
        if header is None:
            return None
        match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
        if match is None or (match.group(1) == "" and match.group(2) == ""):
            return None  # a syntax we do not implement (e.g. several ranges): ignored, as RFC 9110 allows
        first, last = match.group(1), match.group(2)
        if first == "":
            suffix = int(last)
            if suffix == 0 or size == 0:
                return "bad"
            return (max(size - suffix, 0), size - 1)
        start = int(first)
        end = size - 1 if last == "" else min(int(last), size - 1)
        if start >= size or (last != "" and int(last) < start):
            return "bad"
        return (start, end)

    def serve_bytes(self, f, headers):
        headers = [*headers, ("Accept-Ranges", "bytes"), ("Content-Type", "application/octet-stream"),
                   ("Content-Disposition", f"inline; filename*=UTF-8''{quote(os.path.basename(f.path))}")]
        span = self.parse_range(f.size)
        if span == "bad":
            return self.reply(416, [*headers, ("Content-Range", f"bytes */{f.size}")])
        if span is None:
            status, start, end = 200, 0, f.size - 1
        else:
            status, (start, end) = 206, span
            headers.append(("Content-Range", f"bytes {start}-{end}/{f.size}"))
        length = end - start + 1
        self.send_head(status, headers, length)
        if self.command == "HEAD":
            return self.log_request_line(status, 0)
        limit = length
        cut = self.server.options.fail_once_after
        if cut is not None and length > cut:
            with self.server.lock:
                if f.sha256 not in self.server.failed_once:
                    self.server.failed_once.add(f.sha256)
                    limit = cut
        sent = 0
        with open(f.disk_path, "rb") as source:
            source.seek(start)
            while sent < limit:
                chunk = source.read(min(65536, limit - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        if limit < length:
            self.wfile.flush()
            self.close_connection = True
            log(f"cut {f.path} after {sent} of {length} bytes (--fail-once-after)")
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
        self.log_request_line(status, sent)

    def serve_api(self, repo_id, rest, query):
        repo = self.server.repos.get(repo_id)
        if repo is None:
            return self.repo_not_found()
        if not rest or rest[0] == "revision":
            if len(rest) == 1 or len(rest) > 2:
                return self.error(404, "Not found")
            revision = rest[1] if rest else "main"
            if self.find_repo(repo_id, revision) is None:
                return None
            blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
            siblings = []
            for f in repo.files.values():
                sibling = {"rfilename": f.path}
                if blobs:
                    sibling.update(size=f.size, blobId=f.pointer_sha1 if f.lfs else f.blob_sha1)
                    if f.lfs:
                        sibling["lfs"] = {"size": f.size, "sha256": f.sha256, "pointerSize": f.pointer_size}
                siblings.append(sibling)
            org = repo_id.split("/")[0]
            return self.reply_json({
                "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24], "id": repo_id, "modelId": repo_id,
                "author": org, "sha": repo.commit, "lastModified": LAST_MODIFIED, "private": False,
                "disabled": False, "gated": False, "tags": [], "siblings": siblings,
            })
        if rest[0] == "tree" and len(rest) >= 2:
            if self.find_repo(repo_id, rest[1]) is None:
                return None
            folder = "/".join(rest[2:])
            recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
            folders = repo.folders()
            if folder and folder not in folders:
                return self.error(404, f"Entry not found: {folder}", "EntryNotFound",
                                  [("X-Repo-Commit", repo.commit)])
            prefix = f"{folder}/" if folder else ""

            def wanted(path):
                if not path.startswith(prefix):
                    return False
                return recursive or "/" not in path[len(prefix):]

            entries = [{"type": "directory", "oid": hashlib.sha1(f"tree {d}".encode()).hexdigest(), "size": 0,
                        "path": d} for d in sorted(folders) if wanted(d)]
            entries += [f.tree_entry() for f in repo.files.values() if wanted(f.path)]
            return self.reply_json(entries)
        self.error(404, "Not found")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="folder holding ORG/NAME/<files>")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on resolve and api paths")
    parser.add_argument("--redirect-over", type=int, default=1 << 20,
                        help="files larger than this are LFS-style: 302 to /lfs-blobs/<sha256> (default 1 MiB)")
    parser.add_argument("--fail-once-after", type=int, help="cut the first GET of each file body after N bytes")
    parser.add_argument("--cdn-host", help="make LFS redirects absolute to http://HOST:PORT (e.g. localhost), "
                                           "another origin, as the Hub's CDN is")
    parser.add_argument("--pointer-etag", action="store_true",
                        help="on LFS redirects send ETag = git sha1 of the LFS pointer (as the Hub does)")
    parser.add_argument("--print-port", action="store_true", help="print the port on stdout")
    options = parser.parse_args()
    if not Path(options.root).is_dir():
        parser.error(f"--root {options.root} is not a directory")

    running = []  # the server once it exists; a signal before that just exits

    def stop(signum, frame):
        if not running:
            sys.exit(0)
        threading.Thread(target=running[0].shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = Mirror(("127.0.0.1", options.port), options)
    running.append(server)
    port = server.server_address[1]
    for repo in server.repos.values():
        log(f"{repo.repo_id} commit {repo.commit}, {len(repo.files)} files")
    log(f"serving {options.root} on http://127.0.0.1:{port}")
    if options.print_port or options.port == 0:
        announce(sys.stdout, port)

    server.serve_forever(poll_interval=0.2)
    server.server_close()
    log("stopped")


if __name__ == "__main__":
    main()
