"""A first workflow: a webhook, a schedule and a manual run."""

from floww import Builtin, Context, CronEvent, ManualEvent, WebhookEvent

builtin = Builtin()


@builtin.webhook("/hello/{name}", methods=["POST"])
def hello(ctx: Context, event: WebhookEvent) -> dict[str, str]:
    name = event.path_params["name"]
    ctx.log.info("saying hi to %s", name, path=event.path)
    return {"message": f"hi {name}"}


@builtin.cron("*/5 * * * *")
def tick(ctx: Context, event: CronEvent) -> None:
    ticks = ctx.kv.get("ticks", 0) + 1
    ctx.kv.set("ticks", ticks)
    ctx.log.info("tick at %s", event.scheduled_time.isoformat(), ticks=ticks)


@builtin.manual("greet")
def greet(ctx: Context, event: ManualEvent) -> dict[str, str]:
    who = (event.input or {}).get("name", "world")
    return {"greeting": f"hello, {who}"}
