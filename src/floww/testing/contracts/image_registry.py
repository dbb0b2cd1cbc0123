"""Contract of ``ImageRegistry``."""

from __future__ import annotations

import gzip
import uuid

import pytest

from floww.domain.errors import InvalidInput, NotFound, PermissionDenied
from floww.domain.oci import OciImage
from floww.ports.image_registry import ImageRegistry


def repository() -> str:
    return f"floww/rt-{uuid.uuid4().hex[:12]}"


def image(content: bytes = b"requests==2.32.0\n") -> OciImage:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    return OciImage(config=config, layers=(gzip.compress(content, mtime=0),))


def test_push_then_exists_resolve_and_pull(registry: ImageRegistry) -> None:
    repo, img = repository(), image()
    assert registry.exists(repo, "v1") is False
    digest = registry.push(repo, "v1", img)
    assert digest == img.digest
    assert registry.exists(repo, "v1") is True
    assert registry.resolve(repo, "v1") == digest
    assert registry.pull(repo, "v1") == img
    assert registry.pull(repo, digest) == img


def test_pushing_identical_content_again_returns_the_same_digest(registry: ImageRegistry) -> None:
    repo, img = repository(), image()
    assert registry.push(repo, "v1", img) == registry.push(repo, "v1", image())


def test_a_tag_moves_to_the_latest_push(registry: ImageRegistry) -> None:
    repo = repository()
    old = registry.push(repo, "latest", image(b"a"))
    new = registry.push(repo, "latest", image(b"b"))
    assert old != new
    assert registry.resolve(repo, "latest") == new
    assert registry.pull(repo, old) == image(b"a")  # the old manifest stays by digest


def test_multi_layer_images_round_trip(registry: ImageRegistry) -> None:
    repo = repository()
    img = OciImage(config=b"{}", layers=(gzip.compress(b"one"), gzip.compress(b"two")))
    registry.push(repo, "multi", img)
    assert registry.pull(repo, "multi").layers == img.layers


def test_unknown_repository_tag_and_digest_raise_not_found(registry: ImageRegistry) -> None:
    repo = repository()
    with pytest.raises(NotFound):
        registry.resolve(repo, "v1")
    with pytest.raises(NotFound):
        registry.pull(repo, "v1")
    registry.push(repo, "v1", image())
    with pytest.raises(NotFound):
        registry.resolve(repo, "v2")
    with pytest.raises(NotFound):
        registry.pull(repo, "v2")
    with pytest.raises(NotFound):
        registry.pull(repo, "sha256:" + "0" * 64)
    assert registry.exists(repo, "v2") is False


def test_invalid_names_are_rejected(registry: ImageRegistry) -> None:
    with pytest.raises(InvalidInput):
        registry.push("Not A Repo", "v1", image())
    with pytest.raises(InvalidInput):
        registry.push(repository(), "bad tag!", image())


def test_push_credentials_are_scoped_and_fresh(registry: ImageRegistry) -> None:
    namespace = f"ns{uuid.uuid4().hex[:12]}"
    repo = f"floww/{namespace}"
    first = registry.push_credentials(namespace, repo)
    second = registry.push_credentials(namespace, repo)
    assert first.username and first.password and first.registry
    assert first.expires_in > 0
    assert first.password != second.password
    assert first.password not in repr(first)


def test_another_namespace_may_not_push_to_a_repository(registry: ImageRegistry) -> None:
    owner = f"ns{uuid.uuid4().hex[:12]}"
    registry.push_credentials(owner, f"floww/{owner}")
    with pytest.raises(PermissionDenied):
        registry.push_credentials("nsintruder", f"floww/{owner}")


def test_identical_content_pushed_to_two_repositories_is_pulled_from_both(
    registry: ImageRegistry,
) -> None:
    first, second, img = repository(), repository(), image(b"shared layer")
    assert registry.push(first, "v1", img) == registry.push(second, "v1", img)
    assert registry.pull(first, "v1") == img
    assert registry.pull(second, img.digest) == img


def test_an_image_is_not_found_through_a_repository_it_was_not_pushed_to(
    registry: ImageRegistry,
) -> None:
    owner, other, img = repository(), repository(), image(b"private layer")
    registry.push(owner, "v1", img)
    registry.push(other, "v1", image(b"something else"))
    with pytest.raises(NotFound):
        registry.pull(other, img.digest)
    assert registry.exists(other, "v2") is False
