"""The shipped ``FunctionHost`` contract suite on ``LambdaFunctionHost`` over moto, where moto
can honour it: a created runtime is READY as its function is Active; ``start`` takes the run
(moto answers an ``Event`` invoke with 202).

The rest of the suite needs the function to run its image (results, logs, deadlines, code
that does not load, a missing image refused at creation), which moto cannot do; those
behaviours are shown against moto with answers computed by the real entry
(``tests/integration/test_lambda_host.py``), against a loopback server speaking Lambda's error
contract (``test_lambda_errors.py``) and with the image booted under the runtime interface
client (``test_lambda_entry.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from floww.adapters.aws.lambda_host import LambdaConfig, LambdaFunctionHost
from floww.ports.function_host import FunctionHost
from floww.testing.contracts.function_host import (
    runtime,
    test_created_runtime_is_ready,
    test_start_hands_the_run_over_or_leaves_it_to_invoke,
)
from tests.integration.moto_lambda import moto_aws

pytestmark = pytest.mark.integration

__all__ = [
    "runtime",
    "test_created_runtime_is_ready",
    "test_start_hands_the_run_over_or_leaves_it_to_invoke",
]


@pytest.fixture
def host() -> Iterator[FunctionHost]:
    with moto_aws() as aws:
        config = LambdaConfig(role_arn=aws.role_arn, image_prefix="registry.example")
        yield LambdaFunctionHost(aws.client("lambda"), config)
