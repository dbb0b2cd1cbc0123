"""FLOWW_PROFILE=cloud: every component's cloud choice over PostgreSQL, and sentences for what
is missing or contradicts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from floww.domain.errors import InvalidInput
from floww.settings import CLOUD_COMPONENTS, Settings

COMPLETE = {
    "FLOWW_PROFILE": "cloud",
    "FLOWW_DATABASE_URL": "postgresql+psycopg://floww@db/floww",
    "FLOWW_PUBLIC_URL": "https://floww.example",
    "FLOWW_WORKOS_CLIENT_ID": "client_1",
    "FLOWW_WORKOS_API_KEY": "sk_test_1",
    "FLOWW_WORKOS_REDIRECT_URI": "https://floww.example/auth/callback",
    "FLOWW_WORKOS_COOKIE_PASSWORD": "c" * 40,
    "FLOWW_CENTRIFUGO_API_URL": "https://centrifugo.internal:8000",
    "FLOWW_CENTRIFUGO_API_KEY": "key",
    "FLOWW_CENTRIFUGO_WS_URL": "wss://rt.floww.example/connection/websocket",
    "FLOWW_ECR_REGION": "eu-west-1",
    "FLOWW_LAMBDA_REGION": "eu-west-1",
    "FLOWW_LAMBDA_ROLE_ARN": "arn:aws:iam::123456789012:role/floww-functions",
    "FLOWW_LAMBDA_IMAGE_PREFIX": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "FLOWW_LAMBDA_BASE_IMAGE": "floww-base/lambda-python@sha256:" + "a" * 64,
}


def load(env: dict[str, str], tmp_path: Path) -> Settings:
    return Settings.load({"FLOWW_HOME": str(tmp_path), **env})


def test_the_cloud_profile_chooses_every_cloud_component(tmp_path: Path) -> None:
    settings = load(COMPLETE, tmp_path)
    assert {name: getattr(settings, name) for name in CLOUD_COMPONENTS} == {
        "identity": "workos",
        "realtime": "centrifugo",
        "registry": "proxy",
        "function_host": "lambda",
    }
    assert settings.registry_upstream_auth == "ecr"  # the proxy's upstream is ECR


def test_the_cloud_profile_takes_another_upstream_when_told(tmp_path: Path) -> None:
    basic = {
        **COMPLETE,
        "FLOWW_REGISTRY_UPSTREAM_AUTH": "basic",
        "FLOWW_REGISTRY_UPSTREAM_URL": "https://registry.internal:5000",
    }
    assert load(basic, tmp_path).registry_upstream_auth == "basic"
    without_region = {k: v for k, v in COMPLETE.items() if k != "FLOWW_ECR_REGION"}
    with pytest.raises(InvalidInput, match="FLOWW_ECR_REGION"):
        load(without_region, tmp_path)


@pytest.mark.parametrize("name", sorted(CLOUD_COMPONENTS))
def test_a_component_set_otherwise_contradicts_the_profile(name: str, tmp_path: Path) -> None:
    other = {"identity": "local", "realtime": "embedded", "registry": "local"}
    other["function_host"] = "local"
    with pytest.raises(InvalidInput, match=f"FLOWW_{name.upper()}"):
        load({**COMPLETE, f"FLOWW_{name.upper()}": other[name]}, tmp_path)


def test_sqlite_is_refused_and_missing_settings_are_named(tmp_path: Path) -> None:
    without_db = {k: v for k, v in COMPLETE.items() if k != "FLOWW_DATABASE_URL"}
    with pytest.raises(InvalidInput, match="PostgreSQL"):
        load(without_db, tmp_path)
    with pytest.raises(InvalidInput, match="FLOWW_CENTRIFUGO_API_KEY"):
        load({k: v for k, v in COMPLETE.items() if k != "FLOWW_CENTRIFUGO_API_KEY"}, tmp_path)
    with pytest.raises(InvalidInput, match="FLOWW_PUBLIC_URL"):  # Lambda calls back there
        load({k: v for k, v in COMPLETE.items() if k != "FLOWW_PUBLIC_URL"}, tmp_path)
    with pytest.raises(InvalidInput, match="FLOWW_LAMBDA_BASE_IMAGE"):  # Lambda needs its base
        load({k: v for k, v in COMPLETE.items() if k != "FLOWW_LAMBDA_BASE_IMAGE"}, tmp_path)
    with pytest.raises(InvalidInput, match="FLOWW_LAMBDA_ROLE_ARN"):
        load({k: v for k, v in COMPLETE.items() if k != "FLOWW_LAMBDA_ROLE_ARN"}, tmp_path)
