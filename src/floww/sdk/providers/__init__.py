"""Providers: the services user code talks to, and the triggers they offer; one module each.

A provider is named by its type and an alias (``GitHub()`` is ``github:default``,
``Slack("ops")`` is ``slack:ops``). Constructing one records *provider usage*, so the platform
can check that the namespace has credentials for it; its credentials are read, at invocation
time, from the configs injected for that invocation (``provider.config``). A provider's rules
on the server side (fields, verification, filters) are ``floww.domain.providers``; its module
here is what user code sees: triggers and actions.
"""

from floww.sdk.providers.base import Provider, Secret
from floww.sdk.providers.discord import Discord
from floww.sdk.providers.github import GitHub
from floww.sdk.providers.gitlab import GitLab
from floww.sdk.providers.jira import Jira
from floww.sdk.providers.linear import Linear
from floww.sdk.providers.slack import Slack
from floww.sdk.providers.standard_webhooks import StandardWebhooks
from floww.sdk.providers.stripe import Stripe
from floww.sdk.providers.todoist import Todoist

__all__ = [
    "Discord",
    "GitHub",
    "GitLab",
    "Jira",
    "Linear",
    "Provider",
    "Secret",
    "Slack",
    "StandardWebhooks",
    "Stripe",
    "Todoist",
]
