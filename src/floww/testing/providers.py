"""Fake providers: the provider API calls of a workflow under test, recorded instead of sent.

A provider action (``await slack.send_message(...)``, ``await github.create_issue(...)``) runs
the SDK's own code: it reads the injected config, builds the request, and parses the answer.
Only the last step differs: the request goes to ``FakeProviders.transport`` (through
``floww.sdk.http.provider_transport``), which records it as a ``ProviderCall`` and answers
what the real API documents for a success, or what the test scripted with ``respond``.

Each provider's config gets an ``api_url`` under ``FAKE_API_ROOT``, so a request names the
provider it came from; a request to any other address fails the test loudly rather than reach
the network.
"""

from __future__ import annotations

import email.message
import io
import itertools
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from floww.domain.model import ProviderField, ProviderRef

__all__ = ["FAKE_API_ROOT", "FakeProviders", "ProviderCall", "fake_config"]

FAKE_API_ROOT = "https://providers.floww.invalid"
"""Where fake providers' ``api_url`` points (``.invalid`` never resolves: nothing leaks)."""

Answer = Callable[[dict[str, Any], int], Any]


@attrs.frozen
class ProviderCall:
    """One provider action a handler made: ``provider`` is ``type:alias``, ``action`` the SDK
    method (``send_message``), ``args`` its arguments as the API received them (path parts such
    as ``owner`` and ``repository`` included), ``method`` and ``path`` the HTTP request."""

    provider: str
    action: str
    args: dict[str, Any]
    method: str
    path: str

    @property
    def name(self) -> str:
        """``<type>.<action>``, for example ``slack.send_message``."""
        return f"{self.provider.split(':', 1)[0]}.{self.action}"


def _slack_message(args: dict[str, Any], n: int) -> Any:
    ts = f"1700000000.{n:06d}"
    return {
        "ok": True,
        "channel": args.get("channel"),
        "ts": ts,
        "message": {"type": "message", "text": args.get("text"), "ts": ts},
    }


def _github_issue(args: dict[str, Any], n: int) -> Any:
    url = f"https://github.com/{args['owner']}/{args['repository']}/issues/{n}"
    return {"number": n, "title": args.get("title"), "body": args.get("body"), "html_url": url}


def _github_comment(args: dict[str, Any], n: int) -> Any:
    url = (
        f"https://github.com/{args['owner']}/{args['repository']}/issues/"
        f"{args['issue_number']}#issuecomment-{n}"
    )
    return {"id": n, "body": args.get("body"), "html_url": url}


# (provider type, method, path pattern) -> (action, documented success answer)
_ACTIONS: list[tuple[str, str, re.Pattern[str], str, Answer]] = [
    ("slack", "POST", re.compile(r"^/chat\.postMessage$"), "send_message", _slack_message),
    (
        "github",
        "POST",
        re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repository>[^/]+)/issues$"),
        "create_issue",
        _github_issue,
    ),
    (
        "github",
        "POST",
        re.compile(
            r"^/repos/(?P<owner>[^/]+)/(?P<repository>[^/]+)/issues/(?P<issue_number>\d+)/comments$"
        ),
        "create_comment",
        _github_comment,
    ),
]


def fake_config(ref: ProviderRef, fields: tuple[ProviderField, ...]) -> dict[str, str]:
    """A config for ``ref`` with a placeholder for each field and ``api_url`` on the fake."""
    config = {field.name: f"test-{field.name}" for field in fields}
    config["api_url"] = f"{FAKE_API_ROOT}/{ref.type}/{urllib.parse.quote(ref.alias, safe='')}"
    return config


@attrs.frozen
class _Scripted:
    body: Any
    status: int


class FakeProviders:
    """Records provider actions and answers them; thread-safe.

    ``calls`` lists every action in the order handlers made them; ``calls_to(name)`` those of
    one action (``"slack.send_message"``). ``respond(name, body, status=...)`` scripts the next
    answers of an action: a status of 400 or more makes the SDK raise the error the real API
    would cause (``PermissionDenied`` for 401/403, ``Unavailable`` for 429/5xx, ...).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[ProviderCall] = []
        self._scripted: dict[str, list[_Scripted]] = {}
        self._numbers = itertools.count(1)

    @property
    def calls(self) -> list[ProviderCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, name: str) -> list[ProviderCall]:
        """The recorded calls of ``name`` (``<type>.<action>``, e.g. ``github.create_issue``)."""
        return [call for call in self.calls if call.name == name]

    def respond(self, name: str, body: Any, *, status: int = 200) -> None:
        """Answer the next call of ``name`` with ``body`` (JSON) and ``status``; scripted
        answers are used once each, in order, before the documented success answer."""
        with self._lock:
            self._scripted.setdefault(name, []).append(_Scripted(body, status))

    def clear(self) -> None:
        """Forget the recorded calls (scripted answers stay)."""
        with self._lock:
            self._calls.clear()

    def transport(self, request: urllib.request.Request, timeout: float) -> bytes:
        """The ``floww.sdk.http.Transport`` the SDK's provider clients use under test."""
        url = request.full_url
        if not url.startswith(FAKE_API_ROOT + "/"):
            raise AssertionError(
                f"a provider call went to {url}, not to a fake provider: give providers their "
                "config through the test, without an api_url of your own"
            )
        kind, alias, path = _split(url[len(FAKE_API_ROOT) :])
        method = request.get_method()
        args = _json_args(request.data)
        action, make_answer = _action_for(kind, method, path, args)
        call = ProviderCall(f"{kind}:{alias}", action, args, method, path)
        with self._lock:
            self._calls.append(call)
            scripted = self._scripted.get(call.name) or []
            answer = scripted.pop(0) if scripted else None
            number = next(self._numbers)
        if answer is None:
            return json.dumps(make_answer(args, number)).encode()
        data = json.dumps(answer.body).encode()
        if answer.status >= 400:
            raise urllib.error.HTTPError(
                url,
                answer.status,
                "scripted by the test",
                email.message.Message(),
                io.BytesIO(data),
            )
        return data


def _split(rest: str) -> tuple[str, str, str]:
    parsed = urllib.parse.urlsplit(rest)
    parts = parsed.path.split("/", 3)
    if len(parts) < 3:
        raise AssertionError(f"unexpected provider URL path {rest!r}")
    tail = "/" + parts[3] if len(parts) > 3 else "/"
    return parts[1], urllib.parse.unquote(parts[2]), tail


def _json_args(data: Any) -> dict[str, Any]:
    if not data:
        return {}
    decoded = json.loads(data)
    return decoded if isinstance(decoded, dict) else {"body": decoded}


def _action_for(kind: str, method: str, path: str, args: dict[str, Any]) -> tuple[str, Answer]:
    for provider_type, action_method, pattern, action, answer in _ACTIONS:
        if provider_type == kind and action_method == method:
            match = pattern.match(path)
            if match:
                parts: Mapping[str, str] = {
                    k: urllib.parse.unquote(v) for k, v in match.groupdict().items()
                }
                args.update(parts)
                if "issue_number" in parts:
                    args["issue_number"] = int(parts["issue_number"])
                return action, answer
    # A call the fake has no name for (a custom provider's API): named after the request.
    return f"{method} {path}", lambda _args, _n: {"ok": True}
