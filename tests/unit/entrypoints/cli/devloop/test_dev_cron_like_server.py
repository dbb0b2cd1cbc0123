"""``floww dev``'s local cron and the server's scheduler fire the same ticks for the same
triggers and window: the same expressions, the same skipped triggers, the same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from floww.domain.model import ProviderRef, Trigger, TriggerSpec
from floww.domain.usecases.scheduling import due_cron_ticks
from floww.entrypoints.cli.devloop import due_ticks

BUILTIN = ProviderRef("builtin")
EXPRESSIONS = ["*/5 * * * *", "0 * * * *", "30 9 * * 1-5", "0 0 1 * *", "not a cron", "61 * * * *"]


def _spec(provider: str, trigger_type: str, expression: str) -> TriggerSpec:
    return TriggerSpec(ProviderRef(provider), trigger_type, {"expression": expression})


def _both(specs: list[TriggerSpec], after: datetime, until: datetime) -> None:
    local = due_ticks(specs, after, until)
    triggers = [Trigger(f"tr_{i}", "wf_1", spec) for i, spec in enumerate(specs)]
    server = [
        (tick.trigger.spec, tick.scheduled_at) for tick in due_cron_ticks(triggers, after, until)
    ]
    assert local == server


def test_an_invalid_expression_fires_nothing_in_dev_and_on_the_server() -> None:
    # One bad row must not stop the scheduler for every other trigger.
    specs = [_spec("builtin", "cron", "not a cron"), _spec("builtin", "cron", "*/5 * * * *")]
    after = datetime(2026, 1, 1, 9, 52, tzinfo=UTC)
    _both(specs, after, after + timedelta(minutes=10))


def test_only_builtin_cron_triggers_tick_in_dev_and_on_the_server() -> None:
    specs = [_spec("github", "cron", "* * * * *"), _spec("builtin", "cron", "0 * * * *")]
    after = datetime(2026, 1, 1, 9, 52, tzinfo=UTC)
    _both(specs, after, after + timedelta(hours=2))


@settings(max_examples=80, deadline=None)
@given(
    specs=st.lists(
        st.builds(
            _spec,
            st.sampled_from(["builtin", "slack"]),
            st.sampled_from(["cron", "webhook"]),
            st.sampled_from(EXPRESSIONS),
        ),
        max_size=5,
    ),
    after=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    window=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)),
)
def test_local_and_server_cron_tick_alike(
    specs: list[TriggerSpec], after: datetime, window: timedelta
) -> None:
    _both(specs, after, after + window)
