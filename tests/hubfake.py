"""A local HTTP server shaped like the Hugging Face hub, and tiny GGUF files to serve from it.

It answers what `huggingface_hub` asks for a download: `GET /api/models/ORG/REPO[/revision/REV]` (siblings,
with LFS sizes and sha256 when `blobs` is asked) and `HEAD`/`GET /ORG/REPO/resolve/REV/FILE` (ETag,
X-Repo-Commit, Content-Length, Range). Tests can make it drop a connection mid-file or serve corrupt bytes.
Point `HF_ENDPOINT` at `FakeHub.url`.

Also: builders of the other places a model may already be in, Ollama's store and the hub cache's layout.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


def tiny_gguf(
    path: Path,
    *,
    architecture: str = "llama",
    context_length: int = 2048,
    file_type: int | None = 15,  # MOSTLY_Q4_K_M
    chat_template: str | None = "{% for m in messages %}{{ m.content }}{% endfor %}",
    tensor_elements: int = 1024,
    tensors: int = 2,
    split_max_tensors: int = 0,
) -> list[Path]:
    """Write a valid GGUF (a few metadata keys, float tensors of `tensor_elements` values) and return its
    paths: one file, or `split_max_tensors` tensors a shard named `STEM-0000i-of-0000n.gguf`."""
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path, architecture, split_max_tensors=split_max_tensors)
    writer.add_name("Tiny test model")
    writer.add_context_length(context_length)
    writer.add_embedding_length(8)
    writer.add_block_count(2)
    writer.add_head_count(2)
    writer.add_head_count_kv(1)
    if file_type is not None:
        writer.add_file_type(file_type)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.add_token_list(["<s>", "</s>", "a", "b", "c"])
    writer.add_array("tokenizer.ggml.scores", [0.0, 0.0, 1.0, 2.0, 3.0])
    for i in range(tensors):
        writer.add_tensor(f"blk.{i}.weight", np.arange(tensor_elements, dtype=np.float32) + i)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if not split_max_tensors:
        return [path]
    stem = path.name[: -len(".gguf")]
    return sorted(path.parent.glob(f"{stem}-*-of-*.gguf"))


@dataclass
class FakeRepo:
    files: dict[str, bytes]
    commit: str


@dataclass
class _Drop:
    after: int  # bytes of the file sent before the connection is cut
    times: int


@dataclass
class FakeHub:
    """The server's state; tests change it between pulls."""

    repos: dict[str, FakeRepo] = field(default_factory=dict)
    drops: dict[str, _Drop] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)  # files served with one byte flipped
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range header)
    url: str = ""

    def add_repo(self, repo_id: str, files: dict[str, bytes]) -> FakeRepo:
        commit = hashlib.sha1(repo_id.encode() + b"".join(sorted(files.values()))).hexdigest()
        self.repos[repo_id] = repo = FakeRepo(dict(files), commit)
        return repo

    def drop_connection(self, filename: str, after: int, times: int = 1) -> None:
        """Cut the connection `after` bytes into `filename`, for the next `times` downloads of it."""
        self.drops[filename] = _Drop(after, times)

    def gets(self, filename: str) -> list[str | None]:
        """The Range header of each GET of `filename` (None: the whole file)."""
        return [rng for method, path, rng in self.requests if method == "GET" and path.endswith("/" + filename)]


def _siblings(repo: FakeRepo, with_blobs: bool) -> list[dict]:
    siblings = []
    for name, data in sorted(repo.files.items()):
        sibling: dict = {"rfilename": name}
        if with_blobs:
            sibling["size"] = len(data)
            sibling["blobId"] = hashlib.sha1(data).hexdigest()
            sibling["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
        siblings.append(sibling)
    return siblings


_API = re.compile(r"^/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?/?$")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _not_found(self, code: str, commit: str | None = None) -> None:
            headers = {"X-Error-Code": code, "Content-Type": "application/json"}
            if commit:
                headers["X-Repo-Commit"] = commit
            self._send(404, json.dumps({"error": f"{code}"}).encode(), headers)

        def do_GET(self) -> None:
            self._serve()

        def do_HEAD(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            hub.requests.append((self.command, path, self.headers.get("Range")))
            if match := _API.match(path):
                repo = hub.repos.get(match.group(1))
                if repo is None:
                    return self._not_found("RepoNotFound")
                query = parse_qs(url.query)
                info = {
                    "id": match.group(1),
                    "modelId": match.group(1),
                    "sha": repo.commit,
                    "siblings": _siblings(repo, with_blobs="blobs" in query),
                }
                return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
            if match := _RESOLVE.match(path):
                return self._resolve(match.group(1), match.group(2), match.group(3))
            self._send(404)

        def _resolve(self, repo_id: str, revision: str, filename: str) -> None:
            repo = hub.repos.get(repo_id)
            if repo is None or revision not in (repo.commit, "main"):
                return self._not_found("RepoNotFound" if repo is None else "RevisionNotFound")
            data = repo.files.get(filename)
            if data is None:
                return self._not_found("EntryNotFound", repo.commit)
            sha256 = hashlib.sha256(data).hexdigest()
            if filename in hub.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            if (rng := self.headers.get("Range")) and (found := re.match(r"bytes=(\d+)-", rng)):
                start = int(found.group(1))
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("ETag", f'"{sha256}"')
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if self.command == "HEAD":
                return
            drop = hub.drops.get(filename)
            if drop is not None and drop.times > 0 and drop.after > start:
                drop.times -= 1
                self.wfile.write(body[: drop.after - start])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # mid-body: the client sees a broken download
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def serve_fake_hub(hub: FakeHub | None = None) -> Iterator[FakeHub]:
    """Run a FakeHub on 127.0.0.1 (a free port) in a thread for the duration of the block."""
    hub = hub or FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """An address on which nothing listens (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- the other stores a model can already be in -----------------------------------------------------------


def place_in_ollama_store(
    root: Path, name: str, tag: str, gguf: Path | bytes, *, namespace: str = "library", link: bool = False
) -> Path:
    """Put a model in a folder shaped like Ollama's store (`manifests/registry.ollama.ai/NS/NAME/TAG` and
    `blobs/sha256-HEX`) and return the blob. `link=True` symlinks a GGUF file as the blob instead of copying it
    (a bundled model placed in a fake store)."""
    if isinstance(gguf, Path):
        digest = hashlib.sha256()
        with open(gguf, "rb") as handle:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
        hex_digest, size = digest.hexdigest(), gguf.stat().st_size
    else:
        hex_digest, size = hashlib.sha256(gguf).hexdigest(), len(gguf)
    blob = root / "blobs" / f"sha256-{hex_digest}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(gguf, bytes):
        blob.write_bytes(gguf)
    elif link:
        blob.unlink(missing_ok=True)
        blob.symlink_to(gguf.resolve())
    else:
        blob.write_bytes(gguf.read_bytes())
    template = b"{{ .Prompt }}"
    template_blob = root / "blobs" / f"sha256-{hashlib.sha256(template).hexdigest()}"
    template_blob.write_bytes(template)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:" + "0" * 64},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{hex_digest}", "size": size},
            {
                "mediaType": "application/vnd.ollama.image.template",
                "digest": f"sha256:{template_blob.name[7:]}",
                "size": len(template),
            },
        ],
    }
    path = root / "manifests" / "registry.ollama.ai" / namespace / name / tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))
    return blob


def place_in_hf_cache(cache_dir: Path, repo_id: str, filename: str, data: bytes, commit: str = "a" * 40) -> Path:
    """A file laid out as huggingface_hub caches it: blobs/SHA256 and snapshots/COMMIT/FILE -> the blob."""
    folder = cache_dir / ("models--" + repo_id.replace("/", "--"))
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    pointer = folder / "snapshots" / commit / filename
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.unlink(missing_ok=True)
    pointer.symlink_to(blob)
    return pointer
