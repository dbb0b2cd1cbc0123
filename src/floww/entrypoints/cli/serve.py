"""``floww serve``: the platform on its embedded defaults."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from floww.entrypoints.cli.main import handle_errors

__all__ = ["serve"]


@click.command()
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8000].")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where floww keeps its database, keys, images and runtimes "
    "[default: $FLOWW_HOME or ~/.local/share/floww].",
)
@click.option(
    "--database-url",
    default=None,
    help="sqlite:///path or postgresql://... [default: SQLite under the home].",
)
@click.option(
    "--public-url", default=None, help="How clients reach this server [default: http://HOST:PORT]."
)
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Server processes sharing the port (above 1: PostgreSQL only).",
)
@click.option("--fd", type=int, default=None, hidden=True)
@handle_errors("check the flags and FLOWW_* variables (floww serve --help)")
def serve(
    host: str | None,
    port: int | None,
    home: Path | None,
    database_url: str | None,
    public_url: str | None,
    workers: int,
    fd: int | None,
) -> None:
    """Run the floww platform: HTTP API, webhooks, registry, realtime hub, cron and workers."""
    import uvicorn

    from floww.entrypoints.cli.session import current_env
    from floww.entrypoints.http.connection_limits import serving_protocol
    from floww.settings import Settings

    settings = Settings.load(
        host=host, port=port, home=home, database_url=database_url, public_url=public_url
    )
    if workers != 1:
        from floww.entrypoints.cli.serve_workers import check_workers, run_workers

        check_workers(settings, workers)
        resolved = ["--host", settings.host, "--port", str(settings.port), "--home"]
        resolved += [str(settings.home), "--database-url", settings.database_url]
        resolved += ["--public-url", settings.base_url]
        raise SystemExit(run_workers(settings, workers, resolved))
    server = current_env().adapters.build_server(settings)
    url = settings.base_url
    click.echo(f"floww is serving at {url}  (home: {settings.home})")
    for notice in server.notices:
        click.echo(notice)
    if server.first_start:
        creds = server.first_start
        click.echo("First start: created an admin account and its namespace.")
        click.echo(f"  email:     {creds['email']}")
        click.echo(f"  password:  in {creds['password_file']} (readable by you only)")
        click.echo(f"  namespace: {creds['namespace']}")
    click.echo(
        f"Next: `floww login --server {url}`, then `floww init` and `floww dev` in a project."
    )
    server.start_background()
    server.freeze_heap()
    # uvicorn re-raises SIGTERM once it has shut down; as an exception it lets ``close`` hand
    # the running executions over (interrupted) and stop the workers, instead of dying here.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        # under ``--workers``, the socket the supervisor bound (``fd``) instead of host and port
        where: dict[str, Any] = (
            {"fd": fd} if fd is not None else {"host": settings.host, "port": settings.port}
        )
        uvicorn.run(
            server.app,
            **where,
            log_level="info",
            http=serving_protocol(settings),
            # The client address is the peer's, or FLOWW_CLIENT_IP_HEADER's when configured;
            # never a forwarding header a caller may set itself.
            proxy_headers=False,
        )
    finally:
        server.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)
