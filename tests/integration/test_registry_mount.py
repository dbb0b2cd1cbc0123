"""Base layers reach a namespace's repository by cross-repository mount, never through the
client: ``RegistryV2Client.describe`` reads a base by manifest and config, and ``push`` mounts
the base's layers before uploading the rest. Against floww's own ``/v2/`` (with the platform's
real registry authorization: ``floww-base/*`` readable by every token, written by none; another
namespace's repository never a mount source) and against Debian's ``docker-registry``, which
mounts natively."""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from floww.adapters.http_client.registry_v2 import RegistryV2Client
from floww.adapters.local.image_registry import LocalImageRegistry
from floww.adapters.memory import InMemoryPlatformTokens, InMemorySecretBox, InMemoryWorkflowRepo
from floww.adapters.memory.clock import ManualClock
from floww.domain.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from floww.domain.oci import OciImage, blob_digest
from floww.domain.usecases.access import authorize_registry
from floww.entrypoints.http.registry_v2 import registry_routes, token_from_authorization
from tests.contracts.factories_registry import docker_registry_server, serve_asgi

pytestmark = pytest.mark.integration

BASE = "floww-base/lambda-python"
BASE_LAYER = gzip.compress(b"the base's runtime" * 4096, mtime=0)
OWN_LAYER = gzip.compress(b"floww and the requirements", mtime=0)
CONFIG = json.dumps({"rootfs": {"type": "layers", "diff_ids": []}}).encode()


def base_image() -> OciImage:
    return OciImage(config=CONFIG, layers=(BASE_LAYER,))


def over(base: OciImage) -> OciImage:
    return OciImage(
        config=b'{"built": "over the base"}',
        layers=(OWN_LAYER,),
        base_layers=base.base_layers,
        base_repository=base.base_repository,
    )


class Platform:
    """floww's ``/v2/`` over a local store, authorized as the server authorizes it."""

    def __init__(self, base_url: str, store: LocalImageRegistry) -> None:
        self.base_url, self.store = base_url, store
        self.tokens = TOKENS
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def client(self, namespace: str) -> RegistryV2Client:
        token = self.tokens.issue_registry_token(
            namespace_id=namespace, repository=f"floww/{namespace}", ttl_seconds=600
        )
        return RegistryV2Client(
            self.base_url, http=self.http, credentials=lambda repo: ("floww", token)
        )


TOKENS = InMemoryPlatformTokens(ManualClock())
REPO = InMemoryWorkflowRepo(InMemorySecretBox())


def authorize(header: str | None, repository: str, action: str) -> None:
    principal = TOKENS.verify(token_from_authorization(header) or "")
    if principal is None:
        raise Unauthenticated("not a registry token")
    if repository:
        authorize_registry(REPO, principal, repository, action)


@pytest.fixture
def platform() -> Iterator[Platform]:
    with tempfile.TemporaryDirectory() as root:
        store = LocalImageRegistry(Path(root), registry_host="127.0.0.1")
        store.push(BASE, "3.12", base_image())  # the operator's base
        store.push("floww/ns2", "theirs", OciImage(config=CONFIG, layers=(OWN_LAYER + b"2",)))
        app = Starlette(routes=registry_routes(store, authorize))
        with serve_asgi(app) as url:
            yield Platform(url, store)


def test_a_base_is_read_by_reference_and_its_layers_mounted(platform: Platform) -> None:
    client = platform.client("ns1")
    base = client.describe(BASE, "3.12")
    assert base.layers == ()
    assert [ref.digest for ref in base.base_layers] == [blob_digest(BASE_LAYER)]
    assert base.base_repository == BASE

    image = over(base)
    client.push("floww/ns1", "rt", image)
    assert (client.mounted_blobs, client.uploaded_blobs) == (1, 2)  # the base: mounted only
    pulled = platform.store.pull("floww/ns1", "rt")
    assert pulled.layers == (BASE_LAYER, OWN_LAYER)
    assert pulled.digest == image.digest

    again = platform.client("ns1")
    again.push("floww/ns1", "rt", image)
    assert (again.mounted_blobs, again.uploaded_blobs, again.uploaded_manifests) == (0, 0, 0)


def test_base_repositories_are_read_only(platform: Platform) -> None:
    client = platform.client("ns1")
    with pytest.raises(PermissionDenied):
        client.push(BASE, "3.12", OciImage(config=CONFIG, layers=(b"replaced",)))
    assert platform.store.pull(BASE, "3.12").layers == (BASE_LAYER,)


def test_another_namespaces_repository_is_no_mount_source(platform: Platform) -> None:
    theirs = platform.store.pull("floww/ns2", "theirs")
    image = OciImage(
        config=CONFIG,
        layers=(OWN_LAYER,),
        base_layers=platform.client("ns2").describe("floww/ns2", "theirs").base_layers,
        base_repository="floww/ns2",
    )
    client = platform.client("ns1")
    with pytest.raises(InvalidInput, match="did not mount"):
        client.push("floww/ns1", "stolen", image)
    with pytest.raises(PermissionDenied):
        client.describe("floww/ns2", "theirs")
    assert client.uploaded_blobs == 0
    # Nothing of theirs reached ns1.
    assert not client.exists("floww/ns1", "stolen")
    with pytest.raises(NotFound):
        platform.store.blob_size("floww/ns1", blob_digest(theirs.layers[0]))


def test_docker_registry_mounts_natively() -> None:
    with docker_registry_server() as url, httpx.Client(timeout=30) as http:
        client = RegistryV2Client(url, http=http)
        client.push(BASE, "3.12", base_image())
        base = client.describe(BASE, "3.12")
        image = over(base)
        client.push("floww/ns1", "rt", image)
        assert client.mounted_blobs == 1
        assert client.pull("floww/ns1", "rt").layers == (BASE_LAYER, OWN_LAYER)
