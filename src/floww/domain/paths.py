"""Webhook path templates such as ``/orders/{order_id}`` and matching request paths to them."""

from __future__ import annotations

import re

import attrs

from floww.domain.errors import InvalidInput

__all__ = ["PathTemplate", "normalize_path"]

_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_LITERAL = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$")


def normalize_path(path: str) -> str:
    """Collapse repeated slashes and drop a trailing one: ``//a/b/`` -> ``/a/b``."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


@attrs.frozen
class PathTemplate:
    """A parsed path template: literal segments and ``{name}`` parameters."""

    template: str
    segments: tuple[str, ...]
    params: tuple[str, ...]

    @classmethod
    def parse(cls, template: str) -> PathTemplate:
        """Parse ``template``; raise ``InvalidInput`` for empty, malformed or duplicate names."""
        if not isinstance(template, str) or not template.startswith("/"):
            raise InvalidInput(f"webhook path must start with '/': {template!r}")
        normalized = normalize_path(template)
        segments = tuple(s for s in normalized.split("/") if s)
        params: list[str] = []
        for seg in segments:
            match = _PARAM.match(seg)
            if match:
                if match.group(1) in params:
                    raise InvalidInput(
                        f"duplicate path parameter {match.group(1)!r} in {template!r}"
                    )
                params.append(match.group(1))
            elif not _LITERAL.match(seg):
                raise InvalidInput(f"invalid segment {seg!r} in webhook path {template!r}")
        return cls(template=normalized, segments=segments, params=tuple(params))

    @property
    def is_static(self) -> bool:
        return not self.params

    @property
    def shape(self) -> str:
        """The template with every parameter replaced by ``{}``: two templates with one shape
        would match the same requests, so a shape is unique per method."""
        return "/" + "/".join("{}" if _PARAM.match(s) else s for s in self.segments)

    def match(self, path: str) -> dict[str, str] | None:
        """Return the path parameters if ``path`` matches, else ``None``."""
        parts = [p for p in normalize_path(path).split("/") if p]
        if len(parts) != len(self.segments):
            return None
        values: dict[str, str] = {}
        for seg, part in zip(self.segments, parts, strict=True):
            param = _PARAM.match(seg)
            if param:
                values[param.group(1)] = part
            elif seg != part:
                return None
        return values

    def render(self, values: dict[str, str]) -> str:
        out = []
        for seg in self.segments:
            param = _PARAM.match(seg)
            out.append(values[param.group(1)] if param else seg)
        return "/" + "/".join(out)
