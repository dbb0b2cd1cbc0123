"""``CentrifugoRealtime`` in the ``Realtime`` contract suite, against the embedded hub playing
Centrifugo on loopback (``tests.centrifugo_standin``): publications go through the server HTTP
API (``/api/publish`` with ``X-API-Key``), counts through ``/api/presence_stats``, and
subscriptions are ``centrifuge-python`` clients whose connect and subscribe the stand-in sends
to a permissive proxy backend. The stand-in is one node: Centrifugo's own fan-out between
nodes (Redis, NATS) is not covered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from floww.adapters.centrifugo import CentrifugoRealtime
from floww.adapters.http_client.centrifuge_subscription import CentrifugeSubscription
from floww.ports.realtime import Realtime, Subscription
from tests.centrifugo_standin import PERMISSIVE_TOKEN, permissive_backend, running_standin


def centrifugo_realtime() -> Iterator[Realtime]:
    with permissive_backend() as backend, running_standin(backend) as standin:

        def subscriber(channel: str) -> Subscription:
            return CentrifugeSubscription(standin.ws_url, PERMISSIVE_TOKEN, channel)

        realtime = CentrifugoRealtime(standin.api_url, standin.api_key, subscriber=subscriber)
        try:
            yield realtime
        finally:
            realtime.close()


REALTIME_FACTORIES = [
    pytest.param(centrifugo_realtime, id="centrifugo-standin", marks=pytest.mark.integration)
]
