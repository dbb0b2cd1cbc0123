"""Contract of ``ImageBuilder``: the runtime image of a dependency set, built without a daemon
(pip) or with one (``docker build``), or faked.

Fixture: ``image_builder_harness``, an ``ImageBuilderHarness`` (below): the builder and a
target it can build for. Builds are real and may take seconds each: the suite keeps to two
small builds and one refused one.
"""

from __future__ import annotations

import gzip
import json

import attrs
import pytest

from floww.domain.errors import InvalidInput
from floww.domain.model import RuntimeTarget
from floww.domain.oci import blob_digest
from floww.ports.support import ImageBuilder


@attrs.frozen
class ImageBuilderHarness:
    builder: ImageBuilder
    target: RuntimeTarget


def test_spec_hash_is_cheap_stable_and_ignores_requirement_order(
    image_builder_harness: ImageBuilderHarness,
) -> None:
    builder, target = image_builder_harness.builder, image_builder_harness.target
    base = builder.spec_hash(target, ["six==1.16.0", "attrs>=23.2"])
    assert base == builder.spec_hash(target, ["attrs>=23.2", "six==1.16.0"])
    assert base != builder.spec_hash(target, ["six==1.16.0"])
    assert base != builder.spec_hash(attrs.evolve(target, python_version="3.10"), ["six==1.16.0"])
    assert isinstance(base, str) and base.isalnum()


def test_a_build_is_tagged_with_its_spec_hash_and_reproducible(
    image_builder_harness: ImageBuilderHarness,
) -> None:
    builder, target = image_builder_harness.builder, image_builder_harness.target
    first = builder.build(target, [])
    assert first.tag == builder.spec_hash(target, [])
    again = builder.build(target, [])
    assert again.tag == first.tag
    assert again.image.digest == first.image.digest


def test_the_image_config_describes_its_layers_and_target(
    image_builder_harness: ImageBuilderHarness,
) -> None:
    builder, target = image_builder_harness.builder, image_builder_harness.target
    image = builder.build(target, []).image
    config = json.loads(image.config)
    if "/" in target.platform:  # an OCI platform; "local" is the host's own
        os_name, _, architecture = target.platform.partition("/")
        assert (config["os"], config["architecture"]) == (os_name, architecture)
    assert config["os"] and config["architecture"]
    diff_ids = config["rootfs"]["diff_ids"]
    assert len(diff_ids) == len(image.layers) >= 1
    assert diff_ids[-1] == blob_digest(gzip.decompress(image.layers[-1]))


def test_requirements_that_cannot_be_installed_are_invalid_input(
    image_builder_harness: ImageBuilderHarness,
) -> None:
    builder, target = image_builder_harness.builder, image_builder_harness.target
    with pytest.raises(InvalidInput):
        builder.build(target, ["--index-url http://127.0.0.1:9/simple"])
