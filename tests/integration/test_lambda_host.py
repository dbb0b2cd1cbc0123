"""LambdaFunctionHost against moto (IAM and Lambda's control plane, ``tests.integration.
moto_lambda``): functions made from runtimes, invoke round trips with moto's canned answers,
refusals, a function deleted behind the host's back, destroy.

moto never runs an image: every answer below is queued by the test, computed by floww's real
Lambda entry in this process for the very request (``entry_answer``), so the codec on both
sides is real; running the image itself is shown in ``test_lambda_entry.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from floww.adapters.aws.lambda_host import LambdaConfig, LambdaFunctionHost
from floww.domain.errors import Unavailable, UserCodeError
from floww.domain.model import Runtime, RuntimeStatus
from floww.sdk.lambda_entry import handler
from floww.sdk.wire import definitions_request, invocation_to_wire
from floww.testing.contracts.function_host import CODE, hook, invocation, webhook_event
from tests.integration.moto_lambda import MotoAws, moto_aws

pytestmark = pytest.mark.integration

PREFIX = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_aws() as running:
        yield running


def make_host(aws: MotoAws, **config: Any) -> LambdaFunctionHost:
    settings: dict[str, Any] = {
        "role_arn": aws.role_arn,
        "image_prefix": PREFIX,
        "memory_mb": 1024,
        "timeout_s": 30,
        "ephemeral_storage_mb": 2048,
        "function_prefix": "t",
        "environment": {"FLOWW_LOG_LEVEL": "info"},
    }
    return LambdaFunctionHost(aws.client("lambda"), LambdaConfig(**{**settings, **config}))


def entry_answer(request: dict[str, Any]) -> Any:
    """What floww's Lambda entry answers to ``request`` (files included: no platform here)."""
    return handler(request)


def test_a_runtime_becomes_an_image_function_as_configured(aws: MotoAws) -> None:
    host = make_host(aws)
    made = host.create_runtime(Runtime("rt_conf", "ns_1", "hash", "floww/ns_1:abc"))
    assert (made.status, made.error) == (RuntimeStatus.READY, "")

    function = aws.client("lambda").get_function(FunctionName="t-rt_conf")
    config = function["Configuration"]
    assert config["PackageType"] == "Image"
    assert function["Code"]["ImageUri"] == f"{PREFIX}/floww/ns_1:abc"
    assert (config["MemorySize"], config["Timeout"]) == (1024, 30)
    assert config["EphemeralStorage"] == {"Size": 2048}
    assert config["Role"] == aws.role_arn
    assert config["Environment"]["Variables"] == {"FLOWW_LOG_LEVEL": "info"}
    assert host.runtime_status(made) is RuntimeStatus.READY
    events = aws.client("lambda").get_function_event_invoke_config(FunctionName="t-rt_conf")
    assert (events["MaximumRetryAttempts"], events["MaximumEventAgeInSeconds"]) == (0, 60)


def test_create_is_idempotent_and_follows_a_new_image(aws: MotoAws) -> None:
    host = make_host(aws)
    runtime = Runtime("rt_idem", "ns_1", "hash", "floww/ns_1:one")
    host.create_runtime(runtime)
    arn = aws.client("lambda").get_function(FunctionName="t-rt_idem")["Configuration"]
    again = make_host(aws).create_runtime(runtime)  # another process, same record
    assert again.status is RuntimeStatus.READY
    assert aws.function_names().count("t-rt_idem") == 1
    after = aws.client("lambda").get_function(FunctionName="t-rt_idem")["Configuration"]
    assert after["FunctionArn"] == arn["FunctionArn"]


def test_a_role_lambda_cannot_assume_fails_the_runtime_with_the_reason(aws: MotoAws) -> None:
    host = make_host(aws, role_arn="arn:aws:iam::123456789012:role/missing")
    made = host.create_runtime(Runtime("rt_role", "ns_1", "hash", "floww/ns_1:abc"))
    assert made.status is RuntimeStatus.FAILED
    assert "InvalidParameterValueException" in made.error
    assert "role" in made.error
    with pytest.raises(Unavailable):
        host.get_definitions(made, CODE, {})


def test_definitions_and_invocations_round_trip(aws: MotoAws) -> None:
    host = make_host(aws)
    runtime = host.create_runtime(Runtime("rt_run", "ns_1", "hash", "floww/ns_1:abc"))

    aws.queue_results(entry_answer(definitions_request(CODE, {})))
    definitions = host.get_definitions(runtime, CODE, {})
    assert {s.input["path"] for s in definitions.triggers} == {"/hello/{name}", "/boom", "/slow"}

    call = invocation(hook("/hello/{name}"), webhook_event("/hello/ada", name="ada"))
    aws.queue_results(entry_answer(invocation_to_wire(call)))
    result = host.invoke(runtime, call)
    assert result.ok, result.error
    assert result.result == {"message": "hi ada", "execution": "ex_1"}
    assert [line.message for line in result.logs] == ["greeting ada"]

    boom = invocation(hook("/boom"), webhook_event("/boom"))
    aws.queue_results(entry_answer(invocation_to_wire(boom)))
    failed = host.invoke(runtime, boom)
    assert failed.ok is False and failed.error is not None
    assert (failed.error.type, failed.error.message) == ("ValueError", "kaput")


def test_code_that_does_not_load_is_a_user_code_error(aws: MotoAws) -> None:
    host = make_host(aws)
    runtime = host.create_runtime(Runtime("rt_broken", "ns_1", "hash", "floww/ns_1:abc"))
    broken = CODE.__class__("main.py", {"main.py": "def broken(:\n"})
    aws.queue_results(entry_answer(definitions_request(broken, {})))
    with pytest.raises(UserCodeError) as info:
        host.get_definitions(runtime, broken, {})
    assert (info.value.filename, info.value.lineno) == ("main.py", 1)


def test_an_answer_outside_the_contract_is_unavailable(aws: MotoAws) -> None:
    """moto echoes the payload when nothing is queued: not a runtime answer."""
    host = make_host(aws)
    runtime = host.create_runtime(Runtime("rt_echo", "ns_1", "hash", "floww/ns_1:abc"))
    with pytest.raises(Unavailable, match="does not follow the contract"):
        host.invoke(runtime, invocation(hook("/boom"), webhook_event("/boom")))


def test_a_function_deleted_behind_the_host_is_created_again(aws: MotoAws) -> None:
    """moto answers invocations of a deleted function, so the status call shows it here; the
    invoke path's retry after Lambda's 404 is shown in ``test_lambda_errors.py``."""
    host = make_host(aws)
    runtime = host.create_runtime(Runtime("rt_gone", "ns_1", "hash", "floww/ns_1:abc"))
    aws.client("lambda").delete_function(FunctionName="t-rt_gone")
    assert host.runtime_status(runtime) is RuntimeStatus.READY
    assert "t-rt_gone" in aws.function_names()


def test_destroy_deletes_the_function_and_is_idempotent(aws: MotoAws) -> None:
    host = make_host(aws)
    runtime = host.create_runtime(Runtime("rt_del", "ns_1", "hash", "floww/ns_1:abc"))
    host.destroy_runtime(runtime)
    assert "t-rt_del" not in aws.function_names()
    host.destroy_runtime(runtime)
    # The record alone brings it back on the next call, as after a restart.
    assert host.runtime_status(runtime) is RuntimeStatus.READY
    assert "t-rt_del" in aws.function_names()
