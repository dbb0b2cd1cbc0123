"""A push to acme/api's main branch is announced in Slack's #deploys.

Set up the providers once per namespace (``github`` with alias ``default``, ``slack`` with alias
``ops``); the handlers get their credentials from the platform at every invocation.
"""

from typing import Any

from floww import Builtin, Context, CronEvent, GitHub, ProviderEvent, Slack, WebhookEvent

builtin = Builtin()
github = GitHub()  # credentials: provider type "github", alias "default"
slack = Slack("ops")  # alias "ops"


@builtin.webhook("/hello", methods=["POST"])
async def hello(ctx: Context, event: WebhookEvent) -> dict[str, str]:
    return {"message": f"hi {event.body['name']}"}  # becomes the HTTP response


@builtin.cron("*/5 * * * *")
def tick(ctx: Context, event: CronEvent) -> None:
    ctx.log.info("tick at %s", event.scheduled_time)


@github.on_push(owner="acme", repository="api", branch="main")
async def pushed(ctx: Context, event: ProviderEvent) -> dict[str, Any]:
    return await slack.send_message(channel="#deploys", text=f"{event.pusher} pushed")
