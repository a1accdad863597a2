"""Hardening of the web UI, checked against the running server: loopback bind, optional authentication,
upload size and type limits, only the app's own files served, no flagging, Gradio past the 5.x file-read
advisories. (HTML in chat replies: tests/ui/test_chat.py; refusing a public bind without --auth:
tests/unit/test_cli.py.)"""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from ganymede.core import settings
from ganymede.ui.app import UPLOAD_LIMIT
from tests.ui.helpers import UIServer

pytestmark = pytest.mark.ui


def file_url(server: UIServer, path: str) -> str:
    return f"{server.url}gradio_api/file={path}"


def upload(server: UIServer, name: str, content: bytes, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}gradio_api/upload", files={"files": (name, content)}, timeout=120, **kwargs)


def test_only_the_apps_own_files_are_served(ui_server: UIServer, ui_home: Path) -> None:
    served = upload(ui_server, "note.txt", b"hello").json()[0]
    assert httpx.get(file_url(ui_server, served)).text == "hello"  # an upload is served back to its page
    model = next((ui_home / "models").glob("*.gguf"), ui_home / "models" / "missing.gguf")
    outside = [
        "/etc/passwd",
        "../../../../../../etc/passwd",
        "%2Fetc%2Fpasswd",
        str(settings.repo_root() / "README.md"),
        "README.md",
        "pyproject.toml",
        str(ui_home / "conversations.db"),
        str(ui_home / "logs.db"),
        str(model),
        str(Path(served).parent) + "/../../conversations.db",  # out of the uploads folder
    ]
    for path in outside:
        response = httpx.get(file_url(ui_server, path))
        assert response.status_code in (403, 404), f"{path} was served ({response.status_code})"


def test_uploads_over_the_size_limit_are_refused(ui_server: UIServer) -> None:
    assert UPLOAD_LIMIT == "50mb"
    response = upload(ui_server, "big.txt", b"x" * (50 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert "maximum allowed size" in response.text


def test_a_file_of_the_wrong_type_is_refused_by_the_server(ui_server: UIServer, tmp_path: Path) -> None:
    """The browser's file picker filters by type; a script posting straight to the API is refused too."""
    from gradio_client import Client, handle_file

    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x90\x00")
    client = Client(ui_server.url, verbose=False)
    with pytest.raises(Exception, match="Invalid file type"):
        client.predict(handle_file(str(program)), api_name="/load_file")


def listening_addresses(port: int) -> set[str]:
    """Addresses a local socket listens on for `port`, from /proc/net/tcp{,6} (Linux)."""
    found = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_ui_listens_on_loopback_only_by_default(ui_server: UIServer) -> None:
    addresses = listening_addresses(ui_server.port)
    if not addresses:
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1, nothing else


def test_authentication_guards_the_page_and_the_api(ui_home: Path, tmp_path: Path) -> None:
    from gradio_client import Client

    credentials = tmp_path / "ui-users.txt"
    credentials.write_text("alice:correct-horse\nbob:battery-staple\n", encoding="utf-8")
    server = UIServer(ui_home, ["--auth", str(credentials)]).start()
    try:
        assert httpx.get(f"{server.url}config").status_code == 401
        assert httpx.get(f"{server.url}gradio_api/info").status_code == 401
        assert upload(server, "note.txt", b"hello").status_code == 401
        with pytest.raises(Exception):  # noqa: B017 (gradio_client raises a plain ValueError)
            Client(server.url, auth=("alice", "wrong"), verbose=False)
        client = Client(server.url, auth=("bob", "battery-staple"), verbose=False)
        assert "/translate" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    finally:
        server.stop()


def test_no_flagging(page: Any) -> None:
    assert page.get_by_role("button", name="Flag").count() == 0
    assert not (settings.repo_root() / ".gradio" / "flagged").exists()


def test_gradio_is_past_the_file_read_advisories() -> None:
    installed = Version(importlib.metadata.version("gradio"))
    assert installed >= Version("6.16"), installed
    pyproject = tomllib.loads((settings.repo_root() / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [Requirement(r) for r in pyproject["project"]["dependencies"] if r.startswith("gradio")]
    # 6.15.x: FileExplorer path traversal; 6.6.x: path traversal and gr.load SSRF
    assert pins and all(not pin.specifier.contains(v) for pin in pins for v in ("5.99", "6.6.0", "6.15.9"))
    assert all(pin.specifier.contains("6.16.0") for pin in pins)
