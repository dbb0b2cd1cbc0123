"""A full queue at the HTTP edge: 503 with ``Retry-After`` in whole seconds."""

from __future__ import annotations

import json

from floww.domain.errors import Overloaded
from floww.entrypoints.http.errors import floww_error_response


def test_overloaded_is_503_with_retry_after() -> None:
    response = floww_error_response(Overloaded("the queue is full", retry_after_s=2.2))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    body = json.loads(bytes(response.body))
    assert body["error"]["type"] == "Overloaded"
    assert body["error"]["message"] == "the queue is full"


def test_a_sub_second_hint_still_says_one_second() -> None:
    response = floww_error_response(Overloaded("full", retry_after_s=0.1))
    assert response.headers["retry-after"] == "1"
