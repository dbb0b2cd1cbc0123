"""The machinery of ``floww dev``: the event loop around the dev session, the local webhook
server, local cron, the project watcher and what the session prints."""

from __future__ import annotations

from floww.entrypoints.cli.devloop.local_cron import LocalCron, due_ticks
from floww.entrypoints.cli.devloop.loop import DevLoop, SubscriptionFactory
from floww.entrypoints.cli.devloop.output import DevOutput
from floww.entrypoints.cli.devloop.watcher import ProjectFilter, ProjectWatcher
from floww.entrypoints.cli.devloop.webhook_server import (
    DEFAULT_PORT,
    LocalWebhookServer,
    local_webhook_app,
    match_webhook,
)

__all__ = [
    "DEFAULT_PORT",
    "DevLoop",
    "DevOutput",
    "LocalCron",
    "LocalWebhookServer",
    "ProjectFilter",
    "ProjectWatcher",
    "SubscriptionFactory",
    "due_ticks",
    "local_webhook_app",
    "match_webhook",
]
