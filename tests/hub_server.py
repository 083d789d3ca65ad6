"""A stand-in for the Hugging Face Hub on 127.0.0.1: the endpoints huggingface_hub 2.4 calls to create a
repo and a branch, validate a card, upload a folder in one commit, and download a snapshot (repo info,
file tree, file download).

It keeps every commit in memory, so a test can check exactly what arrived; `fail_commit` makes the
commit endpoint answer with that HTTP status instead, as a broken Hub would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Repo:
    private: bool
    branches: dict[str, dict[str, bytes]] = field(default_factory=lambda: {"main": {}})
    heads: dict[str, str] = field(default_factory=lambda: {"main": "0" * 40})


class HubServer:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.cards: list[str] = []  # every README.md sent to /api/validate-yaml
        self.tokens: list[str | None] = []  # the Authorization header of every write
        self.fail_commit: int | None = None
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._http.shutdown()
        self._http.server_close()

    def files(self, repo: str, revision: str = "main") -> dict[str, bytes]:
        return self.repos[repo].branches[revision]


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        # --- writes -------------------------------------------------------------------------------
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hub.tokens.append(self.headers.get("Authorization"))
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                return self._json(401, {"error": "Invalid credentials"})
            if self.path == "/api/repos/create":
                request = json.loads(body)
                repo = f"{request['organization']}/{request['name']}"
                if repo in hub.repos:
                    return self._json(409, {"error": "You already created this model repo", "url": repo})
                hub.repos[repo] = Repo(private=request.get("visibility") == "private")
                return self._json(200, {"url": f"{hub.url}/{repo}"})
            if self.path == "/api/validate-yaml":
                hub.cards.append(json.loads(body)["content"])
                return self._json(200, {"errors": [], "warnings": []})
            match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit|branch)/([^/?]+)(\?.*)?", self.path)
            if not match or match[1] not in hub.repos:
                return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            repo, action, revision = hub.repos[match[1]], match[2], match[3]
            if action == "branch":
                repo.branches.setdefault(revision, dict(repo.branches["main"]))
                repo.heads.setdefault(revision, repo.heads["main"])
                return self._json(200, {})
            if action == "preupload":
                files = json.loads(body)["files"]
                return self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                                   "oid": None} for f in files]})
            if hub.fail_commit:
                return self._json(hub.fail_commit, {"error": "Internal Error - We're working hard to fix this"})
            if revision not in repo.branches:
                return self._json(404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
            tree = dict(repo.branches[revision])
            for line in body.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    tree[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            repo.branches[revision] = tree
            repo.heads[revision] = hashlib.sha1(json.dumps(sorted((k, hashlib.sha1(v).hexdigest())
                                                                  for k, v in tree.items())).encode()).hexdigest()
            sha = repo.heads[revision]
            return self._json(200, {"commitUrl": f"{hub.url}/{match[1]}/commit/{sha}", "commitOid": sha,
                                    "pullRequestUrl": None})

        # --- reads --------------------------------------------------------------------------------
        def do_GET(self) -> None:  # noqa: N802
            self._read(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._read(send_body=False)

        def _read(self, send_body: bool) -> None:
            info = re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/?]+)(\?.*)?", self.path)
            if info:
                found = self._revision(info[1], info[2])
                if found is None:
                    return
                sha, tree = found
                return self._json(200, {"id": info[1], "modelId": info[1], "sha": sha, "private": False,
                                        "siblings": [{"rfilename": name} for name in sorted(tree)]})
            tree_listing = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/?]+)(\?.*)?", self.path)
            if tree_listing:
                found = self._revision(tree_listing[1], tree_listing[2])
                if found is None:
                    return
                return self._json(200, [{"type": "file", "path": name, "size": len(content),
                                         "oid": hashlib.sha1(content).hexdigest()}
                                        for name, content in sorted(found[1].items())])
            resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path)
            if not resolve:
                return self._json(404, {"error": "not found"})
            found = self._revision(resolve[1], resolve[2])
            if found is None:
                return
            sha, tree = found
            if resolve[3] not in tree:
                return self._json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            content = tree[resolve[3]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.send_header("ETag", f'"{hashlib.sha1(content).hexdigest()}"')
            self.send_header("X-Repo-Commit", sha)
            self.end_headers()
            if send_body:
                self.wfile.write(content)

        def _revision(self, name: str, revision: str) -> tuple[str, dict[str, bytes]] | None:
            repo = hub.repos.get(name)
            if repo is None:
                self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                return None
            for branch, sha in repo.heads.items():
                if revision in (branch, sha):
                    return sha, repo.branches[branch]
            self._json(404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
            return None

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler
