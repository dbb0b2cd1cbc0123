"""Every error the server answers with comes back to the client as the same domain error
class: the server's renderer and the API client's parser share one table of error names."""

from __future__ import annotations

import json

import httpx
import pytest

import floww.domain.errors as errors
from floww.adapters.http_client.client import error_from_response
from floww.domain.errors import FlowwError
from floww.entrypoints.http.errors import floww_error_response

# Errors whose constructor is not ``(message)``, made with the fields they carry.
SAMPLES: dict[type[FlowwError], FlowwError] = {
    errors.NotFound: errors.NotFound("workflow", "wf_1"),
    errors.PayloadTooLarge: errors.PayloadTooLarge(2048, 1024),
    errors.UserCodeError: errors.UserCodeError("boom", filename="main.py", lineno=3),
    errors.ProviderNotConfigured: errors.ProviderNotConfigured([("slack", "ops")]),
    errors.ExecutionFailed: errors.ExecutionFailed("handler failed", error_type="KeyError"),
    errors.DeviceAuthorizationPending: errors.DeviceAuthorizationPending("slow_down"),
    errors.RateLimited: errors.RateLimited("too many sign-ins", retry_after_s=4.0),
    errors.Overloaded: errors.Overloaded("the queue is full", retry_after_s=5.0),
}


def _every_error_class() -> list[type[FlowwError]]:
    found, todo = [], [FlowwError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)


def _sample(cls: type[FlowwError]) -> FlowwError:
    return SAMPLES.get(cls) or cls("something is off", field="name")


def _through_the_wire(error: FlowwError) -> FlowwError:
    answer = floww_error_response(error)
    request = httpx.Request("GET", "http://floww.test/api/thing")
    response = httpx.Response(answer.status_code, content=bytes(answer.body), request=request)
    return error_from_response(response, "http://floww.test")


@pytest.mark.parametrize("cls", _every_error_class(), ids=lambda c: c.__name__)
def test_the_client_maps_every_server_error_back_to_its_class(cls: type[FlowwError]) -> None:
    error = _sample(cls)
    back = _through_the_wire(error)
    assert type(back) is cls
    assert error.message in back.message


@pytest.mark.parametrize("cls", sorted(SAMPLES, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_structured_fields_survive_the_round_trip(cls: type[FlowwError]) -> None:
    error = SAMPLES[cls]
    back = _through_the_wire(error)
    sent = json.loads(bytes(floww_error_response(error).body))["error"]
    assert {k: v for k, v in back.details.items() if k in sent} == {
        k: v for k, v in json.loads(json.dumps(error.details)).items()
    }
