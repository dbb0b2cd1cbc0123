"""``FLOWW_FUNCTION_HOST=lambda``: what it needs, said in one sentence before anything starts."""

from __future__ import annotations

import pytest

from floww.domain.errors import InvalidInput
from floww.settings import Settings

COMPLETE = {
    "FLOWW_HOME": "/tmp/floww-settings-test",
    "FLOWW_FUNCTION_HOST": "lambda",
    "FLOWW_LAMBDA_REGION": "eu-west-1",
    "FLOWW_LAMBDA_ROLE_ARN": "arn:aws:iam::123456789012:role/floww-functions",
    "FLOWW_LAMBDA_IMAGE_PREFIX": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
}


def test_complete_settings_load_with_lambdas_defaults() -> None:
    settings = Settings.load(COMPLETE)
    assert settings.function_host == "lambda"
    assert (settings.lambda_memory_mb, settings.lambda_timeout_s) == (512, 60)
    assert settings.lambda_ephemeral_storage_mb == 512
    assert settings.lambda_function_prefix == "floww"


def test_the_missing_settings_are_named_in_one_sentence() -> None:
    with pytest.raises(InvalidInput) as info:
        Settings.load({"FLOWW_HOME": "/tmp/x", "FLOWW_FUNCTION_HOST": "lambda"})
    message = str(info.value)
    for name in ("FLOWW_LAMBDA_REGION", "FLOWW_LAMBDA_ROLE_ARN", "FLOWW_LAMBDA_IMAGE_PREFIX"):
        assert name in message
    assert "FLOWW_FUNCTION_HOST=local" in message


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FLOWW_LAMBDA_MEMORY_MB", "64", "between 128 and 10240"),
        ("FLOWW_LAMBDA_TIMEOUT_S", "901", "between 1 and 900"),
        ("FLOWW_LAMBDA_EPHEMERAL_STORAGE_MB", "100", "between 512 and 10240"),
        ("FLOWW_LAMBDA_MEMORY_MB", "lots", "FLOWW_LAMBDA_MEMORY_MB='lots' is not valid"),
        ("FLOWW_LAMBDA_ROLE_ARN", "floww-functions", "must be an IAM role ARN"),
        ("FLOWW_LAMBDA_BASE_IMAGE", "public.ecr.aws/lambda/python:3.12", "under floww-base/"),
    ],
)
def test_values_lambda_would_refuse_are_refused_here(name: str, value: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        Settings.load({**COMPLETE, name: value})


def test_lambda_settings_are_not_needed_for_the_local_host() -> None:
    assert Settings.load({"FLOWW_HOME": "/tmp/x"}).function_host == "local"
