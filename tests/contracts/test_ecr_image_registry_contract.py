"""The shipped ``ImageRegistry`` contract suite on ``EcrImageRegistry`` against moto's ECR
(``tests.integration.moto_ecr``), where moto can honour it.

Skipped, with the reason on each: the tests that ``pull`` an image that exists (moto does not
implement ``GetDownloadUrlForLayer``) and the one that moves a tag (floww's ECR repositories
are created with tag immutability: tags are content hashes and never move; the adapter's own
tests show the ``Conflict``). Pulling what does not exist is shown (``NotFound``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from floww.adapters.memory import ManualClock
from floww.ports.image_registry import ImageRegistry
from floww.testing.contracts.image_registry import *  # noqa: F403
from tests.integration.moto_ecr import ecr_registry, moto_server

pytestmark = pytest.mark.integration

_NO_LAYER_DOWNLOAD = "moto does not implement ECR's GetDownloadUrlForLayer, so pull cannot run"
_NOT_HONOURED = {
    "test_push_then_exists_resolve_and_pull": _NO_LAYER_DOWNLOAD,
    "test_multi_layer_images_round_trip": _NO_LAYER_DOWNLOAD,
    "test_identical_content_pushed_to_two_repositories_is_pulled_from_both": _NO_LAYER_DOWNLOAD,
    "test_a_tag_moves_to_the_latest_push": (
        "ECR repositories are created with tag immutability: a tag never moves"
    ),
}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def registry(request: pytest.FixtureRequest, moto_endpoint: str) -> Iterator[ImageRegistry]:
    reason = _NOT_HONOURED.get(request.node.originalname)
    if reason is not None:
        pytest.skip(reason)
    with httpx.Client(timeout=30) as http:
        yield ecr_registry(moto_endpoint, ManualClock(), http)
