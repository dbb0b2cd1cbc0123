"""The wire codecs: the runtime contract (``floww.sdk.wire``) and the generic domain codec
(``floww.codec``): round trips through real JSON, shapes, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floww.codec import (
    endpoints_from_json,
    endpoints_json,
    hook_outcomes_from_json,
    hook_outcomes_json,
    structure,
    unstructure,
)
from floww.domain.errors import InvalidInput, UserCodeError
from floww.domain.model import (
    CodeBundle,
    Definitions,
    Deployment,
    DeploymentStatus,
    ErrorInfo,
    Execution,
    ExecutionContext,
    ExecutionStatus,
    Invocation,
    InvocationResult,
    LogLine,
    ProviderField,
    ProviderRef,
    TriggerSpec,
)
from floww.domain.provider_hooks import HookOutcome
from floww.domain.triggers import WebhookEndpoint
from floww.sdk import wire

T = TypeVar("T")

names = st.text(min_size=1, max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
refs = st.builds(ProviderRef, names, names)
specs = st.builds(TriggerSpec, refs, names, json_objects)
log_lines = st.builds(LogLine, moments, names, st.text(max_size=40), json_objects)
errors = st.builds(ErrorInfo, names, st.text(max_size=40), st.text(max_size=40))
results = st.builds(
    InvocationResult,
    ok=st.booleans(),
    result=json_values,
    logs=st.lists(log_lines, max_size=3).map(tuple),
    duration_ms=st.floats(min_value=0, max_value=1e7, allow_nan=False),
    error=st.none() | errors,
)
executions = st.builds(
    Execution,
    id=names,
    workflow_id=names,
    trigger_id=names,
    status=st.sampled_from(ExecutionStatus),
    received_at=moments,
    event=json_objects,
    deployment_id=st.none() | names,
    dedupe_key=st.none() | names,
    started_at=st.none() | moments,
    finished_at=st.none() | moments,
    duration_ms=st.none() | st.floats(min_value=0, max_value=1e7),
    result=json_values,
    error=st.none() | errors,
    logs=st.lists(log_lines, max_size=3).map(tuple),
    triggered_by=st.none() | names,
)
bundles = st.builds(
    CodeBundle, names, st.dictionaries(names, st.text(max_size=40), min_size=1, max_size=3)
)
deployments = st.builds(
    Deployment,
    id=names,
    workflow_id=names,
    runtime_id=names,
    code=bundles,
    triggers=st.lists(specs, max_size=3).map(tuple),
    provider_mapping=st.dictionaries(names, names, max_size=3),
    status=st.sampled_from(DeploymentStatus),
    created_at=st.none() | moments,
)
invocations = st.builds(
    Invocation,
    code=bundles,
    trigger=specs,
    event=json_objects,
    providers=st.dictionaries(
        st.builds(lambda t, a: f"{t}:{a}", st.from_regex(r"[a-z]{1,6}", fullmatch=True), names),
        st.dictionaries(names, st.text(max_size=10), max_size=2),
        max_size=2,
    ),
    execution=st.builds(ExecutionContext, names, names, names, st.integers(0, 10**6), names),
)


def through_json(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


def round_trip(value: T) -> T:
    return structure(through_json(unstructure(value)), type(value))


@given(specs)
def test_trigger_spec_round_trips(spec: TriggerSpec) -> None:
    assert round_trip(spec) == spec
    assert wire.spec_from_wire(through_json(wire.spec_to_wire(spec))) == spec


endpoints = st.builds(WebhookEndpoint, names, names, st.lists(names, max_size=3).map(tuple))
outcomes = st.builds(HookOutcome, names, names, names, names, st.text(max_size=40))


@given(st.lists(endpoints, max_size=3), st.lists(outcomes, max_size=3))
def test_receipt_endpoints_and_hook_outcomes_round_trip(
    sent: list[WebhookEndpoint], done: list[HookOutcome]
) -> None:
    assert endpoints_from_json(through_json(endpoints_json(sent))) == tuple(sent)
    assert hook_outcomes_from_json(through_json(hook_outcomes_json(done))) == tuple(done)


def test_a_hook_outcome_never_shows_what_the_provider_generated() -> None:
    outcome = HookOutcome("stripe:default", "account", "https://x", "created", "made", {"k": "s"})
    (shown,) = hook_outcomes_json([outcome])
    assert "s" not in shown.values() and "config_update" not in shown


@given(executions)
def test_execution_round_trips(execution: Execution) -> None:
    assert round_trip(execution) == execution


@given(deployments)
def test_deployment_round_trips(deployment: Deployment) -> None:
    assert round_trip(deployment) == deployment


@given(log_lines)
def test_log_line_round_trips(line: LogLine) -> None:
    assert round_trip(line) == line
    assert wire.logline_from_wire(through_json(wire.logline_to_wire(line))) == line


@given(results)
def test_invocation_result_round_trips(result: InvocationResult) -> None:
    assert round_trip(result) == result
    decoded = wire.result_from_wire(through_json(wire.result_to_wire(result)))
    assert decoded == result


@given(invocations)
def test_invocation_round_trips(invocation: Invocation) -> None:
    assert (
        wire.invocation_from_wire(through_json(wire.invocation_to_wire(invocation))) == invocation
    )


def test_unstructure_spells_datetimes_and_enums_as_strings() -> None:
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    doc = unstructure(Execution("ex", "wf", "tr", ExecutionStatus.TIMED_OUT, moment, logs=()))
    assert doc["status"] == "timed_out" and type(doc["status"]) is str
    assert doc["received_at"] == "2024-05-01T12:30:00+00:00"


def test_invocation_wire_shape() -> None:
    code = CodeBundle("main.py", {"main.py": "x = 1\n"})
    spec = TriggerSpec(ProviderRef("github", "work"), "push", {"repository": "api"})
    doc = wire.invocation_to_wire(
        Invocation(
            code,
            spec,
            {"pusher": "ada"},
            {"github:work": {"token": "t"}},
            ExecutionContext("ex_1", "tok", "https://floww.example", 30_000, "wf_1"),
        )
    )
    assert doc == {
        "type": "invoke_trigger",
        "code": {"digest": code.digest, "entrypoint": "main.py", "files": {"main.py": "x = 1\n"}},
        "trigger": {
            "provider": {"type": "github", "alias": "work"},
            "trigger_type": "push",
            "input": {"repository": "api"},
        },
        "event": {"pusher": "ada"},
        "providers": {"github:work": {"token": "t"}},
        "execution": {
            "id": "ex_1",
            "token": "tok",
            "api_url": "https://floww.example",
            "deadline_ms": 30_000,
            "workflow_id": "wf_1",
        },
    }
    assert "files" not in wire.code_to_wire(code, include_files=False)


def test_failed_result_wire_shape() -> None:
    doc = wire.result_to_wire(InvocationResult(ok=False, error=ErrorInfo("KeyError", "'x'", "tb")))
    assert doc == {
        "ok": False,
        "result": None,
        "logs": [],
        "duration_ms": 0.0,
        "error": {"type": "KeyError", "message": "'x'", "traceback": "tb"},
    }


def test_result_from_wire_fills_optional_fields() -> None:
    result = wire.result_from_wire({"ok": False})
    assert result == InvocationResult(ok=False, result=None, logs=(), duration_ms=0.0, error=None)


def test_definitions_request_and_answer() -> None:
    code = CodeBundle("main.py", {"main.py": ""})
    request = wire.definitions_request(code, {"slack:default": {"token": "t"}})
    assert request == {
        "type": "get_definitions",
        "code": wire.code_to_wire(code),
        "providers": {"slack:default": {"token": "t"}},
    }
    definitions = Definitions(
        triggers=(TriggerSpec(ProviderRef("builtin"), "cron", {"expression": "* * * * *"}),),
        providers=(ProviderRef("slack"), ProviderRef("github", "work")),
    )
    assert wire.definitions_from_wire(through_json(wire.definitions_to_wire(definitions))) == (
        definitions
    )


def test_definitions_carry_provider_fields() -> None:
    fields = (ProviderField("api_key", label="API key", secret=True), ProviderField("org"))
    definitions = Definitions(
        triggers=(),
        providers=(ProviderRef("secret", "stripe"), ProviderRef("slack")),
        provider_fields={"secret:stripe": fields},
    )
    doc = wire.definitions_to_wire(definitions)
    assert doc["providers"] == [
        {
            "type": "secret",
            "alias": "stripe",
            "fields": [
                {"name": "api_key", "label": "API key", "secret": True, "required": True},
                {"name": "org", "label": "", "secret": False, "required": True},
            ],
        },
        {"type": "slack", "alias": "default"},
    ]
    assert wire.definitions_from_wire(through_json(doc)) == definitions
    assert wire.provider_fields_from_wire(doc) == {ProviderRef("secret", "stripe"): fields}


def test_refused_definitions_raise_invalid_input() -> None:
    answer = {"ok": False, "error": {"type": "CodeNotCached", "message": "send the files"}}
    with pytest.raises(InvalidInput, match="CodeNotCached: send the files"):
        wire.definitions_from_wire(answer)


def test_failed_definitions_raise_user_code_error() -> None:
    answer = {
        "ok": False,
        "error": {
            "type": "UserCodeError",
            "message": "SyntaxError: invalid syntax",
            "traceback": "tb",
            "filename": "main.py",
            "lineno": 3,
        },
    }
    with pytest.raises(UserCodeError) as info:
        wire.definitions_from_wire(answer)
    assert (info.value.filename, info.value.lineno, info.value.traceback) == ("main.py", 3, "tb")
    assert info.value.reason == "SyntaxError: invalid syntax"


def test_spec_alias_defaults() -> None:
    spec = wire.spec_from_wire({"provider": {"type": "builtin"}, "trigger_type": "manual"})
    assert spec == TriggerSpec(ProviderRef("builtin", "default"), "manual", {})


@pytest.mark.parametrize(
    ("decode", "data"),
    [
        (wire.spec_from_wire, {"trigger_type": "cron"}),
        (wire.spec_from_wire, {"provider": {"type": 3}, "trigger_type": "cron"}),
        (wire.spec_from_wire, ["not", "an", "object"]),
        (wire.result_from_wire, {"result": 1}),
        (wire.result_from_wire, {"ok": True, "logs": "nope"}),
        (wire.result_from_wire, {"ok": True, "duration_ms": "fast"}),
        (wire.logline_from_wire, {"at": "yesterday", "level": "info", "message": "x"}),
        (wire.code_from_wire, {"entrypoint": "main.py", "files": {}, "digest": "sha256:00"}),
        (wire.invocation_from_wire, {"type": "get_definitions"}),
        (wire.definitions_from_wire, {"triggers": []}),
    ],
)
def test_malformed_documents_raise_invalid_input(decode: Any, data: Any) -> None:
    with pytest.raises(InvalidInput):
        decode(data)


EXECUTION = {"id": "ex", "token": "t", "api_url": "http://x", "deadline_ms": 5}
ANSWER = {"ok": True, "triggers": [], "providers": [{"type": "secret", "alias": "s"}]}


@pytest.mark.parametrize(
    ("decode", "data", "names"),
    [
        (wire.code_from_wire, {"entrypoint": "main.py"}, "'files'"),
        (wire.code_from_wire, {"entrypoint": "main.py", "files": {"a.py": 1}}, "code.files"),
        (wire.ref_from_wire, {"type": "github", "alias": ""}, "provider"),
        (
            wire.spec_from_wire,
            {"provider": {"type": "x"}, "trigger_type": "t", "input": 1},
            "input",
        ),
        (wire.providers_from_wire, {"github:work": "token"}, "providers.github:work"),
        (wire.providers_from_wire, {":work": {}}, "provider key"),
        (wire.execution_from_wire, {**EXECUTION, "deadline_ms": "5"}, "execution.deadline_ms"),
        (wire.execution_from_wire, {**EXECUTION, "deadline_ms": True}, "execution.deadline_ms"),
        (wire.execution_from_wire, {"id": "ex", "token": "t", "deadline_ms": 5}, "'api_url'"),
        (wire.execution_from_wire, None, "execution"),
        (wire.logline_from_wire, {"at": 5, "level": "info", "message": "m"}, "log line.at"),
        (wire.logline_from_wire, {"at": "2024-01-01", "level": 1, "message": "m"}, "level"),
        (wire.result_from_wire, {"ok": "yes"}, "invocation result.ok"),
        (wire.result_from_wire, {"ok": True, "error": "boom"}, "error"),
        (wire.invocation_from_wire, {"type": "invoke_trigger", "code": None}, "code"),
        (wire.definitions_from_wire, {"ok": True, "triggers": {}}, "definitions.triggers"),
        (wire.definitions_from_wire, {"ok": True, "providers": [{"alias": "a"}]}, "type"),
        (
            wire.definitions_from_wire,
            {**ANSWER, "providers": [{"type": "secret", "fields": "api_key"}]},
            "fields",
        ),
        (
            wire.definitions_from_wire,
            {**ANSWER, "providers": [{"type": "secret", "fields": [{"name": "k", "secret": 1}]}]},
            "secret",
        ),
        (wire.definitions_from_wire, {"ok": False, "error": "boom"}, "definitions.error"),
    ],
)
def test_decoders_name_the_malformed_field(decode: Any, data: Any, names: str) -> None:
    with pytest.raises(InvalidInput) as info:
        decode(data)
    assert names in str(info.value)


def test_execution_workflow_id_is_optional() -> None:
    assert wire.execution_from_wire(EXECUTION) == ExecutionContext("ex", "t", "http://x", 5, "")


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        ({"type": "x"}, ErrorInfo),
        ({"type": 1, "message": "m"}, ErrorInfo),
        ("sometimes", ExecutionStatus),
        ({"at": 5, "level": "info", "message": "m"}, LogLine),
    ],
)
def test_structure_raises_invalid_input(data: Any, cls: type[Any]) -> None:
    with pytest.raises(InvalidInput):
        structure(data, cls)


def test_naive_wire_datetimes_are_read_as_utc() -> None:
    line = wire.logline_from_wire({"at": "2024-05-01T12:00:00", "level": "info", "message": "m"})
    assert line.at == datetime(2024, 5, 1, 12, tzinfo=UTC)
