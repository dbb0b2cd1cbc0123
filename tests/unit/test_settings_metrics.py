"""The ``/metrics`` settings: off by default, and a sentence naming the missing setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from floww.domain.errors import InvalidInput
from floww.settings import Settings


def test_metrics_are_off_by_default(tmp_path: Path) -> None:
    assert Settings.load({"FLOWW_HOME": str(tmp_path)}).metrics == "off"


def test_token_mode_needs_the_token(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="FLOWW_METRICS_TOKEN"):
        Settings.load({"FLOWW_HOME": str(tmp_path), "FLOWW_METRICS": "token"})


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="'off', 'open' or 'token'"):
        Settings.load({"FLOWW_HOME": str(tmp_path), "FLOWW_METRICS": "public"})


def test_the_token_is_kept_out_of_the_repr(tmp_path: Path) -> None:
    env = {"FLOWW_HOME": str(tmp_path), "FLOWW_METRICS": "token", "FLOWW_METRICS_TOKEN": "s3cret"}
    settings = Settings.load(env)
    assert settings.metrics_token == "s3cret" and "s3cret" not in repr(settings)
