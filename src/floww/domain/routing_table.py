"""A workflow's webhooks compiled for ingress: one segment tree per (source, method), built
once per change of the workflow's routes, so that finding the webhook of a request costs a
walk down the request's segments whatever the number of webhooks.

The tree gives the same answer as ``floww.domain.routing.most_specific`` over every template:
at each segment a literal child is tried before the parameter child, so the first complete
match of the depth-first walk is the one whose specificity (``0`` literal, ``1`` parameter,
leftmost first) is smallest. A static path is all literals and is therefore found first.
"""

from __future__ import annotations

from collections.abc import Iterable

from floww.domain.model import TriggerSource, Webhook
from floww.domain.paths import PathTemplate
from floww.domain.triggers import shares_path

__all__ = ["WebhookIndex"]


class _Node:
    """One segment position: literal children by text, one parameter child, and the webhooks
    (with their template's parameter names) of a template that ends here: one, or several
    triggers of one provider alias sharing its path (``floww.domain.triggers.shares_path``)."""

    __slots__ = ("end", "literal", "param")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.end: tuple[list[Webhook], tuple[str, ...]] | None = None

    def insert(self, template: PathTemplate, hook: Webhook) -> None:
        node = self
        for segment in template.segments:
            if segment.startswith("{"):
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literal.setdefault(segment, _Node())
        if node.end is None:  # one shape per method and source; the first declared wins
            node.end = ([hook], template.params)
        elif shares_path(node.end[0][0], hook):
            node.end[0].append(hook)

    def find(self, parts: list[str], at: int, values: list[str]) -> _Node | None:
        """The terminal node of the most specific template matching ``parts[at:]``, with the
        parameter values appended to ``values`` (left as they were when ``None``)."""
        if at == len(parts):
            return self if self.end is not None else None
        child = self.literal.get(parts[at])
        if child is not None:
            found = child.find(parts, at + 1, values)
            if found is not None:
                return found
        if self.param is not None:
            values.append(parts[at])
            found = self.param.find(parts, at + 1, values)
            if found is not None:
                return found
            values.pop()
        return None


class WebhookIndex:
    """The webhooks of one workflow, compiled. ``find`` and ``allowed_methods`` answer as the
    repository's ``find_webhooks`` and ``floww.domain.routing.allowed_methods`` would."""

    def __init__(self, hooks: Iterable[Webhook]) -> None:
        self._trees: dict[tuple[TriggerSource, str], _Node] = {}
        for hook in hooks:
            key = (hook.source, hook.method.upper())
            tree = self._trees.get(key)
            if tree is None:
                tree = self._trees[key] = _Node()
            tree.insert(PathTemplate.parse(hook.path), hook)

    def find(self, method: str, path: str) -> list[tuple[Webhook, dict[str, str]]]:
        """The webhooks of the most specific template per source (in ``TriggerSource``
        order, then as declared) with their path parameters: one per source, or every trigger
        of a provider alias on its shared path."""
        parts = [p for p in path.split("/") if p]
        method = method.upper()
        found: list[tuple[Webhook, dict[str, str]]] = []
        for source in TriggerSource:
            tree = self._trees.get((source, method))
            if tree is None:
                continue
            values: list[str] = []
            node = tree.find(parts, 0, values)
            if node is not None and node.end is not None:
                hooks, names = node.end
                params = dict(zip(names, values, strict=True))
                found.extend((hook, params) for hook in hooks)
        return found

    def allowed_methods(self, path: str) -> list[str]:
        """The methods, upper-case and sorted, of the webhooks whose template matches
        ``path``."""
        parts = [p for p in path.split("/") if p]
        return sorted(
            {method for (_, method), tree in self._trees.items() if tree.find(parts, 0, [])}
        )
