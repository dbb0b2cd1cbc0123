"""Five-field cron expressions, evaluated in UTC.

Parsing and next-fire computation are delegated to ``cronsim`` (small, pure Python, no
dependencies, actively kept, the evaluator behind a large cron-monitoring service): the rules
of cron (day-of-month OR day-of-week, ranges, steps, names) are subtle and well tested there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
from cronsim import CronSim, CronSimError

from floww.domain.errors import InvalidInput

__all__ = ["CronSchedule"]


@attrs.frozen
class CronSchedule:
    expression: str

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Validate a standard 5-field expression; raise ``InvalidInput`` naming the problem."""
        if not isinstance(expression, str):
            raise InvalidInput(f"cron expression must be a string, not {type(expression).__name__}")
        fields = expression.split()
        if len(fields) != 5:
            raise InvalidInput(
                f"cron expression {expression!r} must have 5 fields (minute hour day month weekday)"
            )
        normalized = " ".join(fields)
        try:
            CronSim(normalized, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise InvalidInput(f"invalid cron expression {expression!r}: {exc}") from exc
        return cls(normalized)

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after ``moment`` (an aware datetime), in UTC."""
        return next(self.fire_times_after(moment))

    def fire_times_after(self, moment: datetime) -> Iterator[datetime]:
        start = moment.astimezone(UTC).replace(microsecond=0)
        for fire in CronSim(self.expression, start):
            if fire > moment:
                yield fire.astimezone(UTC)
