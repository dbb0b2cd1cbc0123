"""floww: code-first workflow automation.

What user code imports::

    from floww import Builtin, Response

    builtin = Builtin()

    @builtin.webhook("/hello/{name}", methods=["POST"])
    def hello(ctx, event):
        return {"message": f"hi {event.path_params['name']}"}

Importing ``floww`` is light: the standard library, ``attrs`` and the domain types only.
"""

from floww.sdk.builtin import Builtin
from floww.sdk.context import Context
from floww.sdk.events import CronEvent, ManualEvent, ProviderEvent, WebhookEvent
from floww.sdk.providers import (
    Discord,
    GitHub,
    GitLab,
    Jira,
    Linear,
    Provider,
    Secret,
    Slack,
    StandardWebhooks,
    Stripe,
    Todoist,
)
from floww.sdk.response import Response
from floww.sdk.retry import Retry

__all__ = [
    "Builtin",
    "Context",
    "CronEvent",
    "Discord",
    "GitHub",
    "GitLab",
    "Jira",
    "Linear",
    "ManualEvent",
    "Provider",
    "ProviderEvent",
    "Response",
    "Retry",
    "Secret",
    "Slack",
    "StandardWebhooks",
    "Stripe",
    "Todoist",
    "WebhookEvent",
]
