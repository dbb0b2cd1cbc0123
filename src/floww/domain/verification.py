"""Verifying deliveries to provider-owned webhooks: the entry point the webhook use case calls.

Each provider's own rules (signature scheme, replay window, filters, event shape) live in its
module of ``floww.domain.providers``; this module names the catalogue's verdict and the signing
helpers tests use.
"""

from __future__ import annotations

from floww.domain.providers import Delivery, verify_delivery
from floww.domain.providers.github import sign_github
from floww.domain.providers.slack import SLACK_TOLERANCE_SECONDS, sign_slack

__all__ = ["SLACK_TOLERANCE_SECONDS", "Delivery", "sign_github", "sign_slack", "verify_delivery"]
