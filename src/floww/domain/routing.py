"""Which webhook a request reaches: one rule for the platform's ingress (both repositories)
and for ``floww dev``'s local webhook server, so that a request routes alike in both.

Among the templates that match a path, the most specific wins: a literal segment beats a
parameter, leftmost first. A static path is all literals, so it beats every template of its
length (``/orders/new`` before ``/orders/{id}``), whatever order they were declared in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from floww.domain.paths import PathTemplate

__all__ = ["allowed_methods", "most_specific", "specificity"]

T = TypeVar("T")


def specificity(template: PathTemplate) -> tuple[int, ...]:
    """Smaller is more specific: ``0`` for a literal segment, ``1`` for a parameter."""
    return tuple(1 if segment.startswith("{") else 0 for segment in template.segments)


def most_specific(
    candidates: Iterable[tuple[PathTemplate, T]], path: str
) -> tuple[T, dict[str, str]] | None:
    """The candidate whose template matches ``path`` and is the most specific, with the path
    parameters; ``None`` when none matches. Two templates of one shape would tie; callers keep
    shapes unique (a repository refuses them as a ``Conflict``), and the first one wins."""
    best: tuple[tuple[int, ...], T, dict[str, str]] | None = None
    for template, value in candidates:
        params = template.match(path)
        if params is None:
            continue
        rank = specificity(template)
        if best is None or rank < best[0]:
            best = (rank, value, params)
    return None if best is None else (best[1], best[2])


def allowed_methods(routes: Iterable[tuple[str, PathTemplate]], path: str) -> list[str]:
    """The methods, upper-case and sorted, of the ``(method, template)`` routes whose template
    matches ``path``: what a request with another method is told (405 with ``Allow``)."""
    return sorted(
        {method.upper() for method, template in routes if template.match(path) is not None}
    )
