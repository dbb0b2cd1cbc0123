"""The scheduling and lease settings: read from the environment, refused with a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from floww.domain.errors import InvalidInput
from floww.settings import Settings


def test_scheduling_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "FLOWW_HOME": str(tmp_path),
            "FLOWW_CONCURRENCY_PER_WORKFLOW": "8",
            "FLOWW_QUEUE_PER_WORKFLOW": "0",
            "FLOWW_LEASE_TTL_S": "2.5",
        }
    )
    assert (settings.concurrency_per_workflow, settings.queue_per_workflow) == (8, 0)
    assert settings.lease_ttl_s == 2.5
    defaults = Settings.load({"FLOWW_HOME": str(tmp_path)})
    assert (defaults.concurrency_per_workflow, defaults.queue_per_workflow) == (4, 100)
    assert defaults.lease_ttl_s == 30.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FLOWW_CONCURRENCY_PER_WORKFLOW", "0"),
        ("FLOWW_QUEUE_PER_WORKFLOW", "-1"),
        ("FLOWW_LEASE_TTL_S", "0"),
        ("FLOWW_LEASE_TTL_S", "soon"),
    ],
)
def test_bad_values_are_refused_by_name(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=name):
        Settings.load({"FLOWW_HOME": str(tmp_path), name: value})
