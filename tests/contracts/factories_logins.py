"""Login stores (refresh-token families) in the ``LoginStore`` suite: the accounts file,
SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from floww.adapters.local.accounts import AccountStore, FileLogins
from floww.adapters.memory import ManualClock
from floww.adapters.sql.logins import SqlLogins
from floww.ports.logins import LoginStore
from tests.contracts.factories_replicas import _postgresql_engine, _sqlite_engine


def file_logins() -> Iterator[LoginStore]:
    with tempfile.TemporaryDirectory(prefix="floww-logins-") as home:
        yield FileLogins(AccountStore(Path(home), ManualClock()))


def sqlite_logins() -> Iterator[LoginStore]:
    for engine in _sqlite_engine():
        yield SqlLogins(engine)


def postgresql_logins() -> Iterator[LoginStore]:
    yield SqlLogins(_postgresql_engine())


LOGINS_FACTORIES = [
    pytest.param(file_logins, id="file"),
    pytest.param(sqlite_logins, id="sqlite"),
    pytest.param(postgresql_logins, id="postgresql", marks=pytest.mark.integration),
]
