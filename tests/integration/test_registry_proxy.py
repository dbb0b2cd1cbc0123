"""The registry proxy (``FLOWW_REGISTRY=proxy``) in front of a real upstream: Debian's
``docker-registry`` with Basic auth on loopback, and ``skopeo`` as the client.

The server is built by ``floww.bootstrap`` from settings and served by uvicorn on loopback; its
``/v2/`` checks floww's registry tokens with the same authorizer as the local registry and
forwards with the upstream's own credentials. Tokens come from the in-memory platform tokens
(with a manual clock, so expiry needs no sleeping); the 1 GiB test runs a real ``floww serve``
with its own HS256 tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.adapters.memory import InMemoryPlatformTokens, ManualClock
from floww.bootstrap import Server, build_server
from floww.domain.model import Principal
from floww.domain.oci import OciImage
from floww.settings import Settings
from tests.contracts.factories_registry import serve_asgi
from tests.integration.registry_upstream import (
    Upstream,
    oci_layout,
    pull,
    push,
    tar_gz_layer,
    upstream_registry,
)

pytestmark = pytest.mark.integration

NS, OTHER = "ns1", "ns2"
REPO, OTHER_REPO = f"floww/{NS}", f"floww/{OTHER}"
BASE = "floww-base/python"


class ScopedTokens(InMemoryPlatformTokens):
    """The in-memory platform tokens, plus pull-only registry tokens (a scope the authorizer
    knows, ``pull:<repository>``)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.clock = clock

    def issue_pull_token(self, namespace_id: str, repository: str) -> str:
        principal = Principal(
            id=f"registry:{namespace_id}",
            kind="registry",
            namespace_id=namespace_id,
            scopes=(f"pull:{repository}",),
        )
        return self._issue(principal, 900)


@attrs.frozen
class Proxy:
    url: str
    tokens: ScopedTokens
    clock: ManualClock
    server: Server

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def token(self, namespace: str = NS, ttl: int = 900) -> str:
        return self.tokens.issue_registry_token(
            namespace_id=namespace, repository=f"floww/{namespace}", ttl_seconds=ttl
        )

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token()}"}


@contextlib.contextmanager
def proxy_server(
    home: Path, upstream: Upstream, tokens: ScopedTokens | None = None, **settings: str
) -> Iterator[Proxy]:
    values = {
        "registry": "proxy",
        "registry_upstream_url": upstream.url,
        "registry_upstream_username": upstream.username,
        "registry_upstream_password": upstream.password,
        **settings,
    }
    tokens = tokens if tokens is not None else ScopedTokens(ManualClock())
    clock = tokens.clock
    server = build_server(Settings.load({}, home=home, **values), tokens=tokens)
    try:
        with serve_asgi(server.app) as url:
            yield Proxy(url, tokens, clock, server)
    finally:
        server.close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with upstream_registry() as running:
        yield running


@pytest.fixture
def proxy(tmp_path: Path, upstream: Upstream) -> Iterator[Proxy]:
    with proxy_server(tmp_path / "home", upstream, registry_shared_repositories=BASE) as running:
        yield running


def layers() -> list[bytes]:
    return [
        tar_gz_layer("one.bin", os.urandom(300_000)),
        tar_gz_layer("two.txt", b"requests==2.32.0\n" * 1000),
        tar_gz_layer("three.bin", os.urandom(3_000_000)),
    ]


def test_skopeo_pushes_a_multi_layer_image_and_pulls_it_back_byte_identical(
    proxy: Proxy, upstream: Upstream, tmp_path: Path
) -> None:
    layout = oci_layout(tmp_path / "src", layers())
    token = proxy.token()

    pushed = push(layout, f"{proxy.host}/{REPO}:v1", token)
    assert pushed.returncode == 0, pushed.stderr

    # the image landed upstream, under the same manifest digest
    head = httpx.head(
        f"{upstream.url}/v2/{REPO}/manifests/v1",
        auth=upstream.auth,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert head.headers["docker-content-digest"] == layout.manifest_digest
    pulled = pull(f"{proxy.host}/{REPO}:v1", tmp_path / "back", token)
    assert pulled.returncode == 0, pulled.stderr
    index = json.loads((tmp_path / "back" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == layout.manifest_digest
    for digest in layout.blobs:
        copy = tmp_path / "back" / "blobs" / "sha256" / digest.removeprefix("sha256:")
        assert copy.read_bytes() == layout.blob(digest).read_bytes()


def test_skopeo_is_refused_outside_its_token_and_nothing_reaches_the_upstream(
    proxy: Proxy, upstream: Upstream, tmp_path: Path
) -> None:
    layout = oci_layout(tmp_path / "src", layers()[:2])

    other = push(layout, f"{proxy.host}/{OTHER_REPO}:v1", proxy.token(NS))
    forged = push(layout, f"{proxy.host}/{REPO}:v1", "flp_" + "A" * 43)
    expiring = proxy.token(ttl=60)
    proxy.clock.advance(61)
    expired = push(layout, f"{proxy.host}/{REPO}:v1", expiring)
    pull_only = proxy.tokens.issue_pull_token(NS, REPO)
    read_only = push(layout, f"{proxy.host}/{REPO}:v1", pull_only)

    for refused in (other, forged, expired, read_only):
        assert refused.returncode != 0
    assert "denied" in other.stderr.lower() or "403" in other.stderr
    assert "unauthorized" in forged.stderr.lower() or "401" in forged.stderr
    assert "unauthorized" in expired.stderr.lower() or "401" in expired.stderr
    assert upstream.tags(OTHER_REPO).status_code == 404
    assert upstream.tags(REPO).status_code == 404

    # the pull-only token reads what an in-scope push wrote
    assert push(layout, f"{proxy.host}/{REPO}:v1", proxy.token()).returncode == 0
    back = pull(f"{proxy.host}/{REPO}:v1", tmp_path / "back", pull_only)
    assert back.returncode == 0, back.stderr


def test_locations_point_at_the_proxy_and_challenges_are_floww_s(
    proxy: Proxy, upstream: Upstream
) -> None:
    anonymous = httpx.get(f"{proxy.url}/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="floww"'
    assert httpx.get(f"{proxy.url}/v2/", headers=proxy.auth()).status_code == 200

    started = httpx.post(f"{proxy.url}/v2/{REPO}/blobs/uploads/", headers=proxy.auth())
    assert started.status_code == 202
    location = started.headers["location"]
    assert location.startswith(f"/v2/{REPO}/blobs/uploads/")
    assert upstream.url not in location

    blob = b"streamed through the proxy"
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    finished = httpx.put(
        httpx.URL(f"{proxy.url}{location}").copy_add_param("digest", digest),
        content=iter([blob[:10], blob[10:]]),  # chunked: no Content-Length
        headers=proxy.auth(),
    )
    assert finished.status_code == 201, finished.text
    assert finished.headers["location"] == f"/v2/{REPO}/blobs/{digest}"
    fetched = httpx.get(f"{proxy.url}/v2/{REPO}/blobs/{digest}", headers=proxy.auth())
    assert fetched.content == blob
    assert fetched.headers["docker-content-digest"] == digest


def test_upstream_errors_pass_through_in_the_registry_format(proxy: Proxy) -> None:
    missing = httpx.get(f"{proxy.url}/v2/{REPO}/manifests/nope", headers=proxy.auth())
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] in {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}

    bad = httpx.put(
        f"{proxy.url}/v2/{REPO}/manifests/v1",
        content=b'{"schemaVersion": 2, "layers": "no"}',
        headers={**proxy.auth(), "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"]

    catalog = httpx.get(f"{proxy.url}/v2/_catalog", headers=proxy.auth())
    assert catalog.status_code == 403
    assert catalog.json()["errors"][0]["code"] == "DENIED"
    bad_name = httpx.get(f"{proxy.url}/v2/Floww/NS1/tags/list", headers=proxy.auth())
    assert bad_name.status_code in {400, 404}


def test_mounts_work_inside_the_namespace_and_from_shared_bases_only(
    proxy: Proxy, upstream: Upstream
) -> None:
    with httpx.Client(timeout=30) as http:
        base = RegistryV2Client(upstream.url, http=http, credentials=lambda repo: upstream.auth)
        image = OciImage(config=b"{}", layers=(tar_gz_layer("base", b"base layer"),))
        base.push(BASE, "v1", image)
        base.push(OTHER_REPO, "v1", image)
    layer = hashlib.sha256(image.layers[0]).hexdigest()
    digest = f"sha256:{layer}"

    def mount(source: str) -> httpx.Response:
        return httpx.post(
            f"{proxy.url}/v2/{REPO}/blobs/uploads/",
            params={"mount": digest, "from": source},
            headers=proxy.auth(),
        )

    denied = mount(OTHER_REPO)
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["code"] == "DENIED"
    mounted = mount(BASE)
    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["location"] == f"/v2/{REPO}/blobs/{digest}"
    again = mount(REPO)  # inside the namespace's own repository
    assert again.status_code == 201
    fetched = httpx.get(f"{proxy.url}/v2/{REPO}/blobs/{digest}", headers=proxy.auth())
    assert fetched.content == image.layers[0]


def test_a_mount_hidden_in_a_form_body_never_reaches_the_upstream(
    proxy: Proxy, upstream: Upstream
) -> None:
    """Go's registry reads ``mount``/``from`` out of a form body as well as the query: a form
    is refused, and starting an upload forwards no body, so another namespace's blob cannot
    be mounted past the check on the query."""
    secret = b"another namespace's private layer " + os.urandom(16)
    digest = "sha256:" + hashlib.sha256(secret).hexdigest()
    with httpx.Client(timeout=30) as http:
        other = RegistryV2Client(upstream.url, http=http, credentials=lambda repo: upstream.auth)
        other.push(OTHER_REPO, "v1", OciImage(config=b"{}", layers=(secret,)))
    form = f"mount={digest}&from={OTHER_REPO}".encode()
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        refused = httpx.post(
            f"{proxy.url}/v2/{REPO}/blobs/uploads/",
            headers={**proxy.auth(), "content-type": content_type},
            content=form,
        )
        assert refused.status_code == 400, refused.text
    # Any other content type: the upload starts empty, the body is not forwarded.
    started = httpx.post(
        f"{proxy.url}/v2/{REPO}/blobs/uploads/",
        headers={**proxy.auth(), "content-type": "text/plain"},
        content=form,
    )
    assert started.status_code == 202, started.text
    leaked = httpx.get(f"{proxy.url}/v2/{REPO}/blobs/{digest}", headers=proxy.auth())
    assert leaked.status_code == 404


def test_an_upstream_refusing_the_server_or_gone_is_a_gateway_error(
    tmp_path: Path, upstream: Upstream
) -> None:
    with proxy_server(tmp_path / "a", upstream, registry_upstream_password="wrong") as proxy:
        refused = httpx.get(f"{proxy.url}/v2/{REPO}/tags/list", headers=proxy.auth())
        assert refused.status_code == 502
        assert refused.json()["errors"][0]["code"] == "UNAVAILABLE"
        assert "upstream" not in refused.headers.get("www-authenticate", "")
    gone = Upstream("http://127.0.0.1:9", upstream.username, upstream.password)
    with proxy_server(tmp_path / "b", gone) as proxy:
        down = httpx.get(f"{proxy.url}/v2/{REPO}/tags/list", headers=proxy.auth())
        assert down.status_code == 503
        assert down.json()["errors"][0]["code"] == "UNAVAILABLE"


def test_an_upload_started_before_a_restart_finishes_after_it(
    tmp_path: Path, upstream: Upstream
) -> None:
    """The proxy keeps no upload state: the upstream does, so a restarted server (or another
    replica) continues an upload another one started."""
    tokens = ScopedTokens(ManualClock())
    blob = os.urandom(100_000)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with proxy_server(tmp_path / "home", upstream, tokens) as first:
        auth = first.auth()
        started = httpx.post(f"{first.url}/v2/{REPO}/blobs/uploads/", headers=auth)
        patched = httpx.patch(
            f"{first.url}{started.headers['location']}",
            content=blob[:60_000],
            headers={**auth, "Content-Range": "0-59999"},
        )
        assert patched.status_code == 202, patched.text
        location = patched.headers["location"]
    with proxy_server(tmp_path / "home", upstream, tokens) as second:
        finished = httpx.put(
            httpx.URL(f"{second.url}{location}").copy_add_param("digest", digest),
            content=blob[60_000:],
            headers={**auth, "Content-Range": "60000-99999"},
        )
        assert finished.status_code == 201, finished.text
        fetched = httpx.get(f"{second.url}/v2/{REPO}/blobs/{digest}", headers=auth)
        assert fetched.content == blob
