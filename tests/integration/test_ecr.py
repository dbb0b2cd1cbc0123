"""``EcrImageRegistry`` against moto's ECR, and the registry proxy with ECR as its upstream.

Stand-ins (``tests.integration.moto_ecr``): moto plays ECR's control plane; Debian's
``docker-registry`` plays ECR's Registry v2 endpoint, with Basic auth for moto's fixed token
(user ``AWS``, password ``<account>-auth-token``), so the proxy's requests only succeed when it
sends the token that ``GetAuthorizationToken`` returned. Not shown here: real ECR's redirects
of blob downloads to S3, IAM policies, scan results.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from floww.adapters.aws.ecr import EcrImageRegistry, ecr_client
from floww.adapters.memory import ManualClock
from floww.bootstrap import build_server
from floww.domain.errors import Conflict, InvalidInput, NotFound, Unavailable
from floww.domain.oci import OciImage
from floww.settings import Settings
from tests.contracts.factories_registry import serve_asgi
from tests.integration.moto_ecr import ECR_PASSWORD, REGION, ecr_registry, moto_server
from tests.integration.registry_upstream import oci_layout, pull, push, tar_gz_layer
from tests.integration.registry_upstream import upstream_registry as basic_registry
from tests.integration.test_registry_proxy import ScopedTokens

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def image(text: bytes) -> OciImage:
    return OciImage(config=b"{}", layers=(tar_gz_layer("f", text),))


def test_a_namespace_repository_is_created_on_first_push_immutable_and_scanned(
    moto_endpoint: str, http: httpx.Client
) -> None:
    registry = ecr_registry(
        moto_endpoint, ManualClock(), http, repository_prefix="acme/floww", scan_on_push=True
    )
    digest = registry.push("floww/first", "abc", image(b"one"))

    (repository,) = ecr_client(REGION, endpoint_url=moto_endpoint).describe_repositories(
        repositoryNames=["acme/floww/first"]
    )["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert registry.resolve("floww/first", "abc") == digest
    assert registry.exists("floww/first", "abc") is True
    assert registry.exists("floww/first", "other") is False
    assert registry.repository("floww/first") == "acme/floww/first"


def test_a_tag_on_other_content_is_a_conflict_and_the_same_content_is_a_no_op(
    moto_endpoint: str, http: httpx.Client
) -> None:
    registry = ecr_registry(moto_endpoint, ManualClock(), http)
    first = registry.push("floww/tags", "v1", image(b"a"))
    assert registry.push("floww/tags", "v1", image(b"a")) == first
    with pytest.raises(Conflict):
        registry.push("floww/tags", "v1", image(b"b"))
    assert registry.resolve("floww/tags", "v1") == first


def test_the_upstream_token_is_cached_until_shortly_before_it_expires(
    moto_endpoint: str, http: httpx.Client
) -> None:
    client = ecr_client(REGION, endpoint_url=moto_endpoint)
    fetched: list[str] = []
    client.meta.events.register(
        "before-call.ecr.GetAuthorizationToken", lambda **kwargs: fetched.append("token")
    )
    clock = ManualClock(datetime(2014, 12, 31, 23, 0, tzinfo=UTC))  # moto's expiry: 2015-01-01
    registry = EcrImageRegistry(
        client,
        clock=clock,
        registry_host="127.0.0.1:8000",
        issue_push_token=lambda ns, repo, ttl: "t",
        http=http,
        refresh_margin_s=300,
    )
    header = registry.authorization()
    assert header == "Basic " + base64.b64encode(f"AWS:{ECR_PASSWORD}".encode()).decode()
    assert registry.authorization() == header
    clock.advance(50 * 60)  # 23:50, ten minutes left
    assert registry.authorization() == header
    assert len(fetched) == 1
    clock.advance(6 * 60)  # 23:56, inside the five-minute margin
    registry.authorization()
    assert len(fetched) == 2
    assert registry.base_url.startswith("https://")  # ECR's proxyEndpoint when none is set


def test_aws_failures_become_domain_errors(moto_endpoint: str, http: httpx.Client) -> None:
    registry = ecr_registry(moto_endpoint, ManualClock(), http)
    with pytest.raises(NotFound):
        registry.resolve("floww/never-pushed", "v1")
    with pytest.raises(NotFound):
        registry.pull("floww/never-pushed", "v1")
    with pytest.raises(InvalidInput):
        registry.exists("Not A Repo", "v1")
    gone = ecr_registry("http://127.0.0.1:9", ManualClock(), http)
    with pytest.raises(Unavailable) as info:
        gone.exists("floww/any", "v1")
    assert "ECR DescribeImages failed" in info.value.message


def test_a_malformed_region_is_named(moto_endpoint: str) -> None:
    with pytest.raises(InvalidInput, match="FLOWW_ECR_REGION='eu west'"):
        ecr_client("eu west")


def test_the_server_refuses_to_start_without_aws_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = Settings.load(
        {},
        home=tmp_path / "home",
        registry="proxy",
        registry_upstream_auth="ecr",
        ecr_region=REGION,
    )
    with pytest.raises(InvalidInput, match="AWS_ACCESS_KEY_ID"):
        build_server(settings)


@contextlib.contextmanager
def ecr_proxy(home: Path, moto_endpoint: str, upstream_url: str) -> Iterator[Any]:
    clock = ManualClock()
    tokens = ScopedTokens(clock)
    settings = Settings.load(
        {},
        home=home,
        registry="proxy",
        registry_upstream_auth="ecr",
        registry_upstream_url=upstream_url,
        ecr_region=REGION,
        ecr_endpoint_url=moto_endpoint,
        ecr_repository_prefix="acme",
    )
    server = build_server(settings, tokens=tokens)
    try:
        with serve_asgi(server.app) as url:
            yield url, tokens
    finally:
        server.close()


def test_skopeo_pushes_through_the_proxy_into_a_new_ecr_repository(
    moto_endpoint: str, tmp_path: Path
) -> None:
    layout = oci_layout(tmp_path / "src", [tar_gz_layer("a", b"x" * 5000), tar_gz_layer("b", b"y")])
    with (
        basic_registry("AWS", ECR_PASSWORD) as data_plane,
        ecr_proxy(tmp_path / "home", moto_endpoint, data_plane.url) as (url, tokens),
    ):
        token = tokens.issue_registry_token(
            namespace_id="ecrns", repository="floww/ecrns", ttl_seconds=900
        )
        host = url.removeprefix("http://")
        pushed = push(layout, f"{host}/floww/ecrns:v1", token)
        assert pushed.returncode == 0, pushed.stderr
        pulled = pull(f"{host}/floww/ecrns:v1", tmp_path / "back", token)
        assert pulled.returncode == 0, pulled.stderr
        assert data_plane.tags("acme/ecrns").json()["tags"] == ["v1"]
        started = httpx.post(
            f"{url}/v2/floww/ecrns/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
        )
        assert started.headers["location"].startswith("/v2/floww/ecrns/blobs/uploads/")
        intruder = push(layout, f"{host}/floww/victim:v1", token)
        assert intruder.returncode != 0
    ecr = ecr_client(REGION, endpoint_url=moto_endpoint)
    (repository,) = ecr.describe_repositories(repositoryNames=["acme/ecrns"])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "acme/victim" not in names  # refused before anything reached ECR
