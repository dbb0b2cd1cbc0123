"""What the CLI takes as a server URL: a bare host:port is given its scheme; anything else
that is not one is refused with a sentence saying what a server URL looks like."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from floww.domain.errors import InvalidInput
from floww.entrypoints.cli.main import cli
from floww.entrypoints.cli.store import server_url
from tests.unit.entrypoints.cli.conftest import World


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        (" https://floww.example.com ", "https://floww.example.com"),
    ],
)
def test_server_urls_are_completed(given: str, url: str) -> None:
    assert server_url(given) == url


@pytest.mark.parametrize(
    "given",
    ["", "not a url", "ftp://host", "http://127.0.0.1:8000/api", "http://:80", "http://h:0"],
)
def test_what_is_no_server_url_is_refused(given: str) -> None:
    with pytest.raises(InvalidInput, match="is not a floww server URL"):
        server_url(given)


def test_commands_say_what_a_server_url_looks_like(world: World) -> None:
    for args in (
        ["login", "--server", "http://floww.test/api"],
        ["config", "set", "server", "zzz y"],
    ):
        result = CliRunner().invoke(cli, args, obj=world.env())
        assert result.exit_code != 0
        assert "is not a floww server URL" in result.output
        assert "Traceback" not in result.output
