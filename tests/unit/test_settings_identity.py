"""``FLOWW_IDENTITY`` and the WorkOS settings: missing ones stop the start with a sentence
naming them; secrets stay out of ``repr``."""

from __future__ import annotations

from pathlib import Path

import pytest

from floww.domain.errors import InvalidInput
from floww.settings import Settings

WORKOS = {
    "FLOWW_IDENTITY": "workos",
    "FLOWW_WORKOS_CLIENT_ID": "client_123",
    "FLOWW_WORKOS_API_KEY": "sk_test_secret_value",
    "FLOWW_WORKOS_REDIRECT_URI": "https://floww.example/auth/callback",
    "FLOWW_WORKOS_COOKIE_PASSWORD": "c" * 32,
}


def test_local_accounts_are_the_default(tmp_path: Path) -> None:
    settings = Settings.load({"FLOWW_HOME": str(tmp_path)})
    assert settings.identity == "local"
    assert settings.workos_base_url == "https://api.workos.com"


def test_workos_settings_are_read_and_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    settings = Settings.load(
        {"FLOWW_HOME": str(tmp_path), **WORKOS, "FLOWW_WORKOS_BASE_URL": "http://127.0.0.1:9"}
    )
    assert (settings.identity, settings.workos_client_id) == ("workos", "client_123")
    assert settings.workos_base_url == "http://127.0.0.1:9"
    assert "sk_test_secret_value" not in repr(settings) and "c" * 32 not in repr(settings)


@pytest.mark.parametrize("missing", sorted(k for k in WORKOS if k != "FLOWW_IDENTITY"))
def test_a_missing_workos_setting_is_named(tmp_path: Path, missing: str) -> None:
    env = {"FLOWW_HOME": str(tmp_path), **{k: v for k, v in WORKOS.items() if k != missing}}
    with pytest.raises(InvalidInput, match=missing):
        Settings.load(env)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FLOWW_IDENTITY", "okta", "FLOWW_IDENTITY must be 'local' or 'workos'"),
        ("FLOWW_WORKOS_COOKIE_PASSWORD", "short", "at least 32 characters"),
        ("FLOWW_WORKOS_BASE_URL", "api.workos.com", "http(s) URL"),
    ],
)
def test_bad_identity_settings_are_refused(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        Settings.load({"FLOWW_HOME": str(tmp_path), **WORKOS, name: value})
    assert says in str(raised.value)
