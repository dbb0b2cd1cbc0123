"""Local cron fires the current code's schedules with the time each tick was due."""

from __future__ import annotations

from datetime import UTC, datetime

from floww.adapters.memory import ManualClock
from floww.domain.model import CodeBundle, Deployment, ProviderRef, TriggerSpec
from floww.entrypoints.cli.devloop import LocalCron, due_ticks
from tests.unit.entrypoints.cli.devloop.conftest import World

EVERY_5 = TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "*/5 * * * *"})
HOURLY = TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "0 * * * *"})
HOOK = TriggerSpec(ProviderRef("builtin"), "webhook", {"path": "/x"})


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, 1, 1, hour, minute, second, tzinfo=UTC)


def test_due_ticks_are_the_fire_times_in_the_window_oldest_first() -> None:
    ticks = due_ticks([HOURLY, HOOK, EVERY_5], _at(9, 52), _at(10, 5))

    assert ticks == [
        (EVERY_5, _at(9, 55)),
        (HOURLY, _at(10, 0)),
        (EVERY_5, _at(10, 0)),
        (EVERY_5, _at(10, 5)),
    ]


def test_step_fires_what_fell_due_with_the_scheduled_time() -> None:
    clock = ManualClock(_at(9, 58, 30))
    fired: list[tuple[TriggerSpec, datetime]] = []
    cron = LocalCron(lambda: [EVERY_5], lambda s, t: fired.append((s, t)), clock, max_sleep=600)

    first_sleep = cron.step()
    clock.advance(95)  # 10:00:05: one tick, due at 10:00:00
    second_sleep = cron.step()

    assert fired == [(EVERY_5, _at(10, 0))]
    assert first_sleep == 90.0
    assert second_sleep == 295.0


def test_the_loop_runs_cron_ticks_on_the_current_code(world: World) -> None:
    world.loop.start()

    tick = next(t for t in world.loop.triggers() if t.trigger_type == "cron")

    result = world.loop.run_local(
        tick, {"scheduled_time": "2024-01-01T10:00:00+00:00", "expression": "*/5 * * * *"}
    )

    assert result.ok
    assert any("tick at 2024-01-01T10:00:00+00:00" in log.message for log in result.logs)
    assert any("cron */5 * * * *  ok" in line for line in world.lines)


def test_a_tick_is_left_to_the_active_deployment(world: World) -> None:
    """With a deployment active, the server's scheduler runs the schedule: a local tick too
    would run it twice (the example's cron counts its ticks in the namespace's KV)."""
    world.loop.start()
    tick = next(t for t in world.loop.triggers() if t.trigger_type == "cron")
    event = {"scheduled_time": "2024-01-01T10:00:00+00:00", "expression": "*/5 * * * *"}
    world.loop._run_cron_tick(tick, event)
    assert any("cron */5 * * * *  ok" in line for line in world.lines)
    ran = len(world.lines)

    code = CodeBundle("main.py", {"main.py": "x = 1\n"})
    world.deps.repo.activate_deployment(
        Deployment("dp_1", world.workflow.id, "rt_1", code, (tick,), {})
    )
    world.loop._run_cron_tick(tick, event)

    assert not any("cron */5 * * * *  ok" in line for line in world.lines[ran:])
    assert any("left to the active deployment" in line for line in world.lines[ran:])
