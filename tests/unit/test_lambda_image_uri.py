"""A Lambda function's image URI: the registry host joined to the image as the registry stores
it (ECR's repository name when the proxy pushes into ECR)."""

from __future__ import annotations

import functools

import pytest

from floww.adapters.aws.ecr import ecr_repository
from floww.adapters.aws.lambda_host import LambdaConfig
from floww.domain.model import Runtime

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = "sha256:" + "a" * 64


def uri(image_ref: str, **config: object) -> str:
    runtime = Runtime(id="rt_1", namespace_id="ns_1", spec_hash="h", image_ref=image_ref)
    settings = {"role_arn": "arn:aws:iam::1:role/r", "image_prefix": HOST, **config}
    return LambdaConfig(**settings).image_uri(runtime)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("image_ref", "expected"),
    [
        ("floww/ns_1:abc", f"{HOST}/acme/floww/ns_1:abc"),
        (f"floww/ns_1@{DIGEST}", f"{HOST}/acme/floww/ns_1@{DIGEST}"),
        ("floww/ns_1", f"{HOST}/acme/floww/ns_1"),
        ("floww-base/python:3.12", f"{HOST}/floww-base/python:3.12"),
    ],
)
def test_ecr_names_the_repository(image_ref: str, expected: str) -> None:
    assert uri(image_ref, repository=functools.partial(ecr_repository, "acme/floww")) == expected


def test_without_a_mapping_the_reference_is_joined_as_it_is() -> None:
    assert uri("floww/ns_1:abc") == f"{HOST}/floww/ns_1:abc"
    assert uri("floww/ns_1:abc", image_prefix="") == "floww/ns_1:abc"
