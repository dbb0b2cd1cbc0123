"""Contract of ``UserspaceRunner``: how ``floww dev`` runs the developer's code locally.

Fixture: ``runner``, a fresh ``UserspaceRunner``.
"""

from __future__ import annotations

import uuid

import pytest

from floww.domain.errors import UserCodeError
from floww.domain.model import (
    CodeBundle,
    ExecutionContext,
    Invocation,
    ProviderRef,
    TriggerSpec,
)
from floww.ports.userspace import UserspaceRunner

BUILTIN = ProviderRef("builtin")


def bundle(body: str) -> CodeBundle:
    # A unique marker keeps bundles of different tests apart in any cache keyed by digest.
    return CodeBundle("main.py", {"main.py": f"# {uuid.uuid4().hex}\n{body}"})


GOOD = (
    "from floww import Builtin, Secret\n"
    "builtin = Builtin()\n"
    "stripe = Secret('stripe', fields=('api_key',))\n"
    "@builtin.manual('go')\n"
    "def go(ctx, event):\n"
    "    ctx.log.info('going', n=event.input['n'])\n"
    "    return {'twice': event.input['n'] * 2, 'key': stripe['api_key']}\n"
    "@builtin.manual('boom')\n"
    "def boom(ctx, event):\n"
    "    raise ValueError('broken on purpose')\n"
)
GO = TriggerSpec(BUILTIN, "manual", {"name": "go"})
BOOM = TriggerSpec(BUILTIN, "manual", {"name": "boom"})
CONFIGS = {"secret:stripe": {"api_key": "sk_test_contract"}}


def invocation(code: CodeBundle, trigger: TriggerSpec, event: dict[str, object]) -> Invocation:
    context = ExecutionContext("ex_contract", "token", "http://127.0.0.1:9", 10_000, "wf_1")
    return Invocation(code, trigger, event, CONFIGS, context)


def test_load_returns_the_declarations(runner: UserspaceRunner) -> None:
    definitions = runner.load(bundle(GOOD), CONFIGS)
    assert {t.identity for t in definitions.triggers} == {GO.identity, BOOM.identity}
    assert ProviderRef("secret", "stripe") in definitions.providers


def test_invoke_returns_the_result_and_the_logs(runner: UserspaceRunner) -> None:
    code = bundle(GOOD)
    runner.load(code, CONFIGS)
    result = runner.invoke(invocation(code, GO, {"input": {"n": 21}}))
    assert result.ok, result.error
    assert result.result == {"twice": 42, "key": "sk_test_contract"}
    assert [(line.message, line.fields) for line in result.logs] == [("going", {"n": 21})]


def test_a_raising_handler_is_a_failed_result(runner: UserspaceRunner) -> None:
    code = bundle(GOOD)
    runner.load(code, CONFIGS)
    result = runner.invoke(invocation(code, BOOM, {"input": None}))
    assert not result.ok and result.error is not None
    assert (result.error.type, result.error.message) == ("ValueError", "broken on purpose")


def test_code_that_fails_to_load_names_its_line(runner: UserspaceRunner) -> None:
    broken = bundle("import os\nraise RuntimeError('not today')\n")
    with pytest.raises(UserCodeError) as failure:
        runner.load(broken, {})
    assert failure.value.filename == "main.py" and failure.value.lineno == 3


def test_a_failed_load_keeps_the_last_good_code_usable(runner: UserspaceRunner) -> None:
    good = bundle(GOOD)
    runner.load(good, CONFIGS)
    with pytest.raises(UserCodeError):
        runner.load(bundle("def broken(:\n"), CONFIGS)
    result = runner.invoke(invocation(good, GO, {"input": {"n": 1}}))
    assert result.ok and result.result["twice"] == 2


def test_a_trigger_the_code_does_not_declare_fails_cleanly(runner: UserspaceRunner) -> None:
    code = bundle(GOOD)
    runner.load(code, CONFIGS)
    missing = TriggerSpec(BUILTIN, "manual", {"name": "missing"})
    result = runner.invoke(invocation(code, missing, {"input": None}))
    assert not result.ok and result.error is not None
