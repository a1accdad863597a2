"""http_api: call an HTTP API that the user registered with an OpenAPI spec, and nothing else.

Guards, in order: the operation must exist in a registered spec; the URL must start with an allow-listed base
URL; the host is resolved once, and every address it resolves to must be public (no private, loopback, link-local,
reserved or multicast addresses) unless the user explicitly allowed private hosts; the connection then goes to one
of exactly those checked addresses (the URL carries the IP, while the Host header and TLS SNI and certificate check
keep the hostname), so a DNS answer that changes between the check and the connection (DNS rebinding) cannot steer
the request elsewhere; redirects are followed by hand, at most 3, each target resolved, checked and pinned again the
same way; every request has a timeout and a response size cap. Proxies and .netrc from the environment are not used:
the request must go to the address that was checked. Operations other than GET/HEAD change things, so they need the
user's confirmation (see Tool.side_effects)."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from ganymede.apps.assistant.tools import Tool, ToolError
from ganymede.core.errors import InputFileError

if TYPE_CHECKING:
    import httpx

TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 3
MAX_BYTES = 200_000
SAFE_METHODS = {"GET", "HEAD"}


@dataclass
class Operation:
    id: str
    method: str
    path: str
    base_url: str
    summary: str = ""
    path_params: list[str] = field(default_factory=list)
    query_params: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    has_body: bool = False

    def describe(self) -> str:
        params = ", ".join(
            [f"{p} (path)" for p in self.path_params]
            + [f"{p} (query)" for p in self.query_params]
            + (["body (JSON)"] if self.has_body else [])
        )
        return f"- {self.id}: {self.method} {self.path} {self.summary}".rstrip() + (
            f" [params: {params}]" if params else ""
        )


def load_spec(path: str | Path) -> dict[str, Any]:
    """An OpenAPI document from a JSON or YAML file."""
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read OpenAPI spec {file}: {exc.strerror}", "check the --api-spec path") from None
    try:
        spec = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputFileError(f"{file}: not valid JSON/YAML ({exc})", "pass an OpenAPI 3 document") from None
    if not isinstance(spec, dict) or "paths" not in spec:
        raise InputFileError(f"{file}: no 'paths' key: not an OpenAPI document", "pass an OpenAPI 3 document")
    return spec


def operations_of(spec: dict[str, Any], base_url: str | None = None) -> list[Operation]:
    servers = spec.get("servers") or [{}]
    base = base_url or servers[0].get("url", "")
    if not base:
        raise InputFileError("the OpenAPI spec lists no servers[].url", "add one, or pass the base URL explicitly")
    found = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method.upper() not in {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}:
                continue
            params = [*shared, *op.get("parameters", [])]
            op_id = (
                op.get("operationId")
                or f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
            )
            found.append(
                Operation(
                    id=op_id,
                    method=method.upper(),
                    path=path,
                    base_url=base.rstrip("/"),
                    summary=op.get("summary", ""),
                    path_params=[p["name"] for p in params if p.get("in") == "path"],
                    query_params=[p["name"] for p in params if p.get("in") == "query"],
                    required=[p["name"] for p in params if p.get("required") or p.get("in") == "path"],
                    has_body="requestBody" in op,
                )
            )
    return found


# -- address checks ------------------------------------------------------------------------------------------
def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified
    )


def resolve(host: str) -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except socket.gaierror as exc:
        raise ToolError(f"cannot resolve host {host!r}: {exc.strerror}") from None


def pinned_url(url: str, address: str) -> tuple[str, str]:
    """`url` with its host replaced by `address` (an IP it was checked to resolve to), and the Host header value
    that names the original host, so the connection goes to the checked IP while the server still sees its name."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    userinfo, _, host_and_port = parts.netloc.rpartition("@")
    # A scoped IPv6 address (fe80::1%eth0) needs its "%" escaped inside a URL.
    ip = f"[{address.replace('%', '%25')}]" if ":" in address else address
    netloc = f"{userinfo}@{ip}:{port}" if userinfo else f"{ip}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), host_and_port


def url_allowed(url: str, allow_urls: list[str]) -> bool:
    """True when `url` is under one of the allow-listed base URLs (same scheme, host, port, path prefix)."""
    target = urlsplit(url)
    for base in allow_urls:
        allowed = urlsplit(base)
        prefix = allowed.path.rstrip("/")
        if (target.scheme, target.hostname, target.port) == (allowed.scheme, allowed.hostname, allowed.port) and (
            target.path == prefix or target.path.startswith(prefix + "/") or not prefix
        ):
            return True
    return False


class HttpApi:
    """Registered operations plus the guards; `tool()` makes the http_api Tool."""

    def __init__(
        self,
        operations: list[Operation],
        allow_urls: list[str] | None = None,
        allow_private: bool = False,
        resolver: Callable[[str], list[str]] = resolve,
        timeout: float = TIMEOUT_SECONDS,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """`resolver(host)` answers the host's addresses (socket.getaddrinfo by default); `verify` is httpx's
        certificate check: True (the public CAs), or an SSLContext that trusts the user's own CA."""
        self.operations = {op.id: op for op in operations}
        # With no explicit allow-list the specs' own servers are the allow-list.
        self.allow_urls = list(allow_urls or []) or sorted({op.base_url for op in operations})
        self.allow_private = allow_private
        self.resolver = resolver
        self.timeout = timeout
        self.verify = verify

    @classmethod
    def from_files(cls, paths: list[str], allow_urls: list[str] | None = None, allow_private: bool = False) -> HttpApi:
        operations = [op for path in paths for op in operations_of(load_spec(path))]
        return cls(operations, allow_urls, allow_private)

    def check_url(self, url: str) -> list[str]:
        """The addresses `url` may be fetched from: its host resolved once, every address checked.

        The caller must connect to one of these addresses and no other (see `pinned_url`): resolving the host again
        could answer differently (DNS rebinding)."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ToolError(f"refused {url}: only http(s) URLs with a host")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when it is read
        except ValueError:
            raise ToolError(f"refused {url}: the port is not a number from 0 to 65535") from None
        if not url_allowed(url, self.allow_urls):
            raise ToolError(f"refused {url}: not under an allowed base URL ({', '.join(self.allow_urls)})")
        addresses = list(self.resolver(parts.hostname))
        if not addresses:
            raise ToolError(f"refused {url}: {parts.hostname} resolves to no address")
        if self.allow_private:
            return addresses
        blocked = [a for a in addresses if not is_public_address(a)]
        if blocked:
            raise ToolError(
                f"refused {url}: {parts.hostname} resolves to a private or loopback address ({blocked[0]}); "
                "the user must allow private hosts explicitly"
            )
        return addresses

    def build_url(self, op: Operation, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        missing = [p for p in op.required if p not in params]
        if missing:
            raise ToolError(f"{op.id} needs parameter(s): {', '.join(missing)}")
        unknown = [p for p in params if p not in op.path_params and p not in op.query_params]
        if unknown:
            raise ToolError(f"{op.id} has no parameter(s) {', '.join(unknown)}")
        path = op.path
        for name in op.path_params:
            path = path.replace("{" + name + "}", quote(str(params[name]), safe=""))
        query = {k: v for k, v in params.items() if k in op.query_params}
        return op.base_url + path, query

    def call(self, operation: str, params: dict[str, Any] | None = None, body: Any = None) -> dict[str, Any]:
        import httpx

        op = self.operations.get(operation)
        if op is None:
            raise ToolError(f"unknown operation {operation!r}; available: {', '.join(self.operations)}")
        url, query = self.build_url(op, params or {})
        request_body = json.dumps(body).encode() if body is not None and op.has_body else None
        # trust_env=False: an environment proxy would make the connection somewhere other than the checked address.
        with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False, verify=self.verify) as client:
            for _ in range(MAX_REDIRECTS + 1):
                target = str(httpx.URL(url, params=query)) if query else url
                addresses = self.check_url(target)
                try:
                    reply = self._send_pinned(client, op.method, target, addresses, request_body)
                    try:
                        if reply.is_redirect:
                            # Relative to the URL with the host's name, not the pinned IP, so the next hop is
                            # resolved, checked and pinned by name again.
                            url, query = urljoin(target, reply.headers.get("location", "")), {}
                            continue
                        data = b""
                        for piece in reply.iter_bytes():
                            data += piece
                            if len(data) > MAX_BYTES:
                                raise ToolError(f"the response is larger than {MAX_BYTES} bytes")
                        return {"status": reply.status_code, "url": target, "body": _decode(data, reply)}
                    finally:
                        reply.close()
                except httpx.TimeoutException:
                    raise ToolError(f"{url} did not answer within {self.timeout:g} s") from None
                except httpx.HTTPError as exc:
                    raise ToolError(f"request to {url} failed: {exc}") from None
        raise ToolError(f"more than {MAX_REDIRECTS} redirects")

    def _send_pinned(
        self, client: httpx.Client, method: str, url: str, addresses: list[str], content: bytes | None
    ) -> httpx.Response:
        """Send to the checked addresses in turn (the next only when one refuses the connection); the reply is
        streamed, so the caller reads it under the size cap and closes it."""
        import httpx

        hostname = urlsplit(url).hostname or ""
        headers = {"content-type": "application/json"} if content else {}
        # The server name for TLS: certificates are checked against the hostname, not the IP connected to.
        extensions = {"sni_hostname": hostname} if url.startswith("https:") else {}
        refused: httpx.ConnectError | None = None
        for address in addresses:
            pinned, host_header = pinned_url(url, address)
            request = client.build_request(
                method, pinned, content=content, headers={**headers, "host": host_header}, extensions=extensions
            )
            try:
                return client.send(request, stream=True)
            except httpx.ConnectError as exc:
                refused = exc
        assert refused is not None  # check_url never answers an empty list
        raise refused

    def tool(self) -> Tool:
        listing = "\n".join(op.describe() for op in self.operations.values())
        return Tool(
            name="http_api",
            description=f"Call a registered web API operation. Operations:\n{listing}",
            parameters={
                "type": "object",
                "properties": {
                    "operation": {"type": "string", "enum": list(self.operations)},
                    "params": {"type": "object", "description": "path and query parameters by name"},
                    "body": {"type": "object", "description": "JSON body, for operations that take one"},
                },
                "required": ["operation"],
            },
            func=self.call,
            side_effects=lambda arguments: self._changes_things(arguments.get("operation")),
        )

    def _changes_things(self, operation: Any) -> bool:
        op = self.operations.get(operation) if isinstance(operation, str) else None
        return op is None or op.method not in SAFE_METHODS


def _decode(data: bytes, reply: Any) -> Any:
    text = data.decode(reply.encoding or "utf-8", errors="replace")
    if "json" in reply.headers.get("content-type", ""):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return text
