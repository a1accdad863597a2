"""http_api against DNS rebinding: the host is resolved once, the answer is checked, and the connection goes to
the checked address, over plain HTTP and over TLS (where the certificate is still checked against the hostname).

The DNS server is simulated at socket.getaddrinfo, the one place both the address check and httpx's connection
look a name up; the services are real HTTP(S) servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ganymede.apps.assistant.tools import ToolError, http_api
from ganymede.apps.assistant.tools.http_api import HttpApi, operations_of

HOST = "api.rebind.test"
#: a public address (it is example.com's old one); nothing here may connect to it and succeed
PUBLIC = "93.184.216.34"


@dataclass
class Hit:
    path: str
    host_header: str


@dataclass
class LoopbackService:
    """A real HTTP(S) server on 127.0.0.1 that records every request it answers."""

    port: int
    hits: list[Hit] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)  # TLS SNI, one per handshake


def _handler(service: LoopbackService) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            service.hits.append(Hit(self.path, self.headers.get("host", "")))
            if self.path.startswith("/api/hop"):
                self.send_response(302)
                self.send_header("location", self.path.replace("/api/hop", "/api/items"))
                self.end_headers()
                return
            if self.path.startswith("/api/away"):
                self.send_response(302)
                self.send_header("location", f"http://elsewhere.rebind.test:{service.port}/api/items/1")
                self.end_headers()
                return
            body = b'{"secret": "loopback only"}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[LoopbackService]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    service = LoopbackService(port=httpd.server_address[1])
    httpd.RequestHandlerClass = _handler(service)
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _ctx: service.server_names.append(name)
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield service
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def service() -> Iterator[LoopbackService]:
    yield from _serve()


class ScriptedDns:
    """socket.getaddrinfo as a DNS server under an attacker's control answers: the addresses of `answers` in turn
    for the names it serves (the last one again once they run out); any other name is resolved for real."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []
        self.real: Callable[..., Any] = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self.real(host, port, *args, **kwargs)
        seen = sum(1 for looked_up in self.lookups if looked_up == name)
        self.lookups.append(name)
        script = self.answers[name]
        return self.real(script[min(seen, len(script) - 1)], port, *args, **kwargs)


def _spec(base: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.0",
        "servers": [{"url": base}],
        "paths": {
            "/items/{item_id}": {"get": {"operationId": "get_item", "parameters": [{"name": "item_id", "in": "path"}]}},
            "/hop/{item_id}": {"get": {"operationId": "hop", "parameters": [{"name": "item_id", "in": "path"}]}},
            "/away": {"get": {"operationId": "away"}},
        },
    }


def test_a_rebinding_answer_never_reaches_the_loopback_service(service: LoopbackService, monkeypatch) -> None:
    dns = ScriptedDns({HOST: [PUBLIC, "127.0.0.1"]})  # the check sees a public address, a second lookup loopback
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    base = f"http://{HOST}:{service.port}/api"
    # A short timeout: the pinned connection goes to PUBLIC, which is unreachable here or does not serve that port.
    api = HttpApi(operations_of(_spec(base)), timeout=1.0)

    with pytest.raises(ToolError):
        api.call("get_item", {"item_id": "1"})
    assert service.hits == [], "the request reached the loopback service through a rebinding DNS answer"
    assert dns.lookups == [HOST], "the host must be resolved once, for the check, and that answer used"

    # The same DNS and service, the way the tool used to do it (check, then let httpx resolve the name again):
    # the second lookup answers 127.0.0.1 and the loopback service is reached, so this test can tell.
    dns.lookups.clear()
    api.check_url(f"{base}/items/1")
    unpinned = httpx.get(f"{base}/items/1", trust_env=False, timeout=5)
    assert unpinned.json() == {"secret": "loopback only"}
    assert [hit.path for hit in service.hits] == ["/api/items/1"]


@pytest.fixture
def loopback_counts_as_public(monkeypatch) -> None:
    """The loopback service stands in for a public API: 127.0.0.1 passes the address check, every other address
    keeps the real rule (127.0.0.2 and 127.0.0.3 are still refused)."""
    monkeypatch.setattr(http_api, "is_public_address", lambda address: address == "127.0.0.1")


def test_the_connection_goes_to_the_checked_address_under_the_hosts_name(
    service: LoopbackService, loopback_counts_as_public: None, monkeypatch
) -> None:
    # The check sees 127.0.0.1; any later lookup answers 127.0.0.2, which the check would refuse and where nothing
    # listens: the call succeeds only if it connects to the address that was checked.
    dns = ScriptedDns({HOST: ["127.0.0.1", "127.0.0.2"]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    api = HttpApi(operations_of(_spec(f"http://{HOST}:{service.port}/api")), timeout=5)

    result = api.call("get_item", {"item_id": "7"})
    assert result["status"] == 200
    assert result["url"] == f"http://{HOST}:{service.port}/api/items/7"  # reported by name, not by pinned IP
    assert service.hits == [Hit("/api/items/7", f"{HOST}:{service.port}")]
    assert dns.lookups == [HOST]


def test_with_private_hosts_allowed_the_connection_is_pinned_too(service: LoopbackService, monkeypatch) -> None:
    dns = ScriptedDns({HOST: ["127.0.0.1", "127.0.0.2"]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    api = HttpApi(operations_of(_spec(f"http://{HOST}:{service.port}/api")), allow_private=True, timeout=5)

    assert api.call("get_item", {"item_id": "8"})["status"] == 200
    assert service.hits == [Hit("/api/items/8", f"{HOST}:{service.port}")]
    assert dns.lookups == [HOST]


def test_each_redirect_is_resolved_once_and_pinned_again(
    service: LoopbackService, loopback_counts_as_public: None, monkeypatch
) -> None:
    # One lookup per hop answers 127.0.0.1; a hop looked up twice would get 127.0.0.2 the second time.
    dns = ScriptedDns({HOST: ["127.0.0.1"] * 2 + ["127.0.0.2"]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    api = HttpApi(operations_of(_spec(f"http://{HOST}:{service.port}/api")), timeout=5)

    assert api.call("hop", {"item_id": "3"})["url"] == f"http://{HOST}:{service.port}/api/items/3"
    assert [hit.path for hit in service.hits] == ["/api/hop/3", "/api/items/3"]
    assert {hit.host_header for hit in service.hits} == {f"{HOST}:{service.port}"}
    assert dns.lookups == [HOST, HOST]


def test_a_redirect_to_a_name_that_resolves_to_loopback_is_refused(
    service: LoopbackService, loopback_counts_as_public: None, monkeypatch
) -> None:
    dns = ScriptedDns({HOST: ["127.0.0.1"], "elsewhere.rebind.test": ["127.0.0.3"]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    allowed = [f"http://{HOST}:{service.port}/api", f"http://elsewhere.rebind.test:{service.port}/api"]
    api = HttpApi(operations_of(_spec(allowed[0])), allow_urls=allowed, timeout=5)

    with pytest.raises(ToolError, match=r"elsewhere\.rebind\.test resolves to a private or loopback address"):
        api.call("away")
    assert [hit.path for hit in service.hits] == ["/api/away"]  # the redirect target was never requested
    assert dns.lookups == [HOST, "elsewhere.rebind.test"]


# -- TLS: the pinned IP in the URL, the hostname in SNI and in the certificate check -------------------------------
def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (it is its own CA), made with the openssl command."""
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_service(tmp_path: Path) -> Iterator[tuple[LoopbackService, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = _certificate(tmp_path, HOST)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    for service in _serve(server_context):
        yield service, cert


def test_https_is_pinned_and_the_certificate_is_checked_against_the_hostname(
    tls_service: tuple[LoopbackService, Path], monkeypatch
) -> None:
    service, cert = tls_service
    dns = ScriptedDns({HOST: ["127.0.0.1", "127.0.0.2"]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    trusted = ssl.create_default_context(cafile=str(cert))
    api = HttpApi(
        operations_of(_spec(f"https://{HOST}:{service.port}/api")), allow_private=True, timeout=5, verify=trusted
    )

    assert api.call("get_item", {"item_id": "5"})["body"] == {"secret": "loopback only"}
    assert service.server_names == [HOST]  # SNI names the host, though the connection went to 127.0.0.1
    assert service.hits == [Hit("/api/items/5", f"{HOST}:{service.port}")]
    assert dns.lookups == [HOST]

    # The same server under another name that also resolves to it: the certificate does not name it, so the call
    # is refused. The check is made against the name in the URL, not against the IP the connection was pinned to
    # (the certificate names no IP, so the call above would have failed too).
    alias = "alias.rebind.test"
    monkeypatch.setattr(socket, "getaddrinfo", ScriptedDns({alias: ["127.0.0.1"]}))
    aliased = HttpApi(
        operations_of(_spec(f"https://{alias}:{service.port}/api")), allow_private=True, timeout=5, verify=trusted
    )
    with pytest.raises(ToolError, match="Hostname mismatch"):
        aliased.call("get_item", {"item_id": "5"})
    assert service.server_names[-1] == alias
    assert len(service.hits) == 1
