"""Stripe's face in user code: an event trigger; reading objects, refunds and metadata through
the API (form-encoded requests, as Stripe takes them). Rules: ``floww.domain.providers.stripe``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from floww.domain.errors import InvalidInput
from floww.domain.providers import stripe as rules
from floww.sdk.declarations import check_name
from floww.sdk.providers.base import ApiProvider, json_object, positive, segment
from floww.sdk.retry import Retry

__all__ = ["Stripe"]

H = TypeVar("H", bound=Callable[..., Any])

# The objects ``retrieve`` reads, by their API path.
_OBJECTS = frozenset(
    {"customers", "charges", "payment_intents", "invoices", "subscriptions", "events", "refunds"}
)


class Stripe(ApiProvider):
    """Stripe: webhook events, and a few API calls with the secret (or restricted) key."""

    type = rules.RULES.type
    fields = rules.RULES.fields
    default_api_url = "https://api.stripe.com"
    service = "Stripe"
    token_field = "secret_key"

    def on_event(
        self, types: Sequence[str] = ("*",), *, retry: Retry | None = None
    ) -> Callable[[H], H]:
        """Run the handler for Stripe events of ``types``: exact names
        (``checkout.session.completed``), families (``invoice.*``) or ``*``."""
        if isinstance(types, str) or not types:
            raise InvalidInput("types must be a non-empty list of event types")
        return self._trigger(
            "event", {"types": [check_name("event type", t) for t in types]}, retry
        )

    async def retrieve(self, object_type: str, object_id: str) -> dict[str, Any]:
        """Read one object, e.g. ``retrieve("customers", "cus_...")``."""
        if object_type not in _OBJECTS:
            raise InvalidInput(f"object_type must be one of {', '.join(sorted(_OBJECTS))}")
        path = f"/v1/{object_type}/{segment('object id', object_id)}"
        return json_object(self.service, await self._client({}).request("GET", path))

    async def create_refund(
        self, payment_intent: str, amount: int | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """Refund a payment (all of it, or ``amount`` in the smallest currency unit)."""
        form = {"payment_intent": check_name("payment_intent", payment_intent)}
        if amount is not None:
            form["amount"] = str(positive("amount", amount))
        if reason is not None:
            form["reason"] = check_name("reason", reason)
        answer = await self._client({}).request("POST", "/v1/refunds", form=form)
        return json_object(self.service, answer)

    async def update_metadata(
        self, object_type: str, object_id: str, metadata: Mapping[str, str]
    ) -> dict[str, Any]:
        """Set metadata keys on an object (``customers``, ``payment_intents``...)."""
        if object_type not in _OBJECTS - {"events", "refunds"}:
            raise InvalidInput(f"metadata cannot be set on {object_type!r}")
        form = {f"metadata[{check_name('metadata key', k)}]": str(v) for k, v in metadata.items()}
        path = f"/v1/{object_type}/{segment('object id', object_id)}"
        return json_object(self.service, await self._client({}).request("POST", path, form=form))
