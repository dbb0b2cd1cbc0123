"""The edge-limit and retention settings: read from ``FLOWW_*`` variables, refused with a
sentence naming the variable when they make no sense."""

from __future__ import annotations

from pathlib import Path

import pytest

from floww.domain.errors import InvalidInput
from floww.settings import Settings


def test_defaults_and_overrides(tmp_path: Path) -> None:
    defaults = Settings.load({"FLOWW_HOME": str(tmp_path)})
    assert (defaults.max_header_bytes, defaults.max_headers) == (32_768, 100)
    assert defaults.client_ip_header == ""
    assert (defaults.execution_retention_days, defaults.execution_retention_count) == (30, 1000)
    loaded = Settings.load(
        {
            "FLOWW_HOME": str(tmp_path),
            "FLOWW_MAX_HEADERS": "50",
            "FLOWW_HEADER_TIMEOUT_S": "2.5",
            "FLOWW_CLIENT_IP_HEADER": "X-Forwarded-For",
            "FLOWW_EXECUTION_RETENTION_DAYS": "7",
            "FLOWW_EXECUTION_RETENTION_COUNT": "0",
        }
    )
    assert loaded.max_headers == 50 and loaded.header_timeout_s == 2.5
    assert loaded.client_ip_header == "X-Forwarded-For"
    assert (loaded.execution_retention_days, loaded.execution_retention_count) == (7, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FLOWW_MAX_HEADER_BYTES", "0"),
        ("FLOWW_MAX_HEADERS", "many"),
        ("FLOWW_HEADER_TIMEOUT_S", "-1"),
        ("FLOWW_BODY_TIMEOUT_S", "nan"),
        ("FLOWW_DEVICE_STARTS_PER_MINUTE", "0"),
        ("FLOWW_EXECUTION_RETENTION_DAYS", "inf"),
        ("FLOWW_EXECUTION_RETENTION_COUNT", "-5"),
    ],
)
def test_nonsense_is_refused_by_name(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Settings.load({"FLOWW_HOME": str(tmp_path), name: value})
    assert name in info.value.message


@pytest.mark.parametrize(
    ("value", "durable"), [("", True), ("  ", True), ("on", True), ("off", False), ("0", False)]
)
def test_an_empty_synchronous_commit_keeps_the_flush(
    tmp_path: Path, value: str, durable: bool
) -> None:
    """FLOWW_PG_SYNCHRONOUS_COMMIT=${X} with X unset must not turn durability off."""
    loaded = Settings.load({"FLOWW_HOME": str(tmp_path), "FLOWW_PG_SYNCHRONOUS_COMMIT": value})
    assert loaded.pg_synchronous_commit is durable
