"""The tables that let several server replicas share what used to live in one process.

- ``dev_sessions``: each ``floww dev`` session of a workflow, its declared triggers and its
  lease (a session that stops renewing is dropped when the lease lapses; so are the sessions
  of a deleted workflow, hence no foreign key).
- ``dev_replies``: the rendezvous of a webhook waiting for a dev session's answer, which may
  arrive on another replica.
- ``realtime_messages``: a short-lived outbox for realtime publications; a replica writes one
  row and notifies its peers, which read it and deliver it to their own subscribers.
- ``device_logins``: RFC 8628 device logins in progress; the device code is stored as its
  SHA-256 digest only.

They join the repository's ``metadata``, so the migration check covers them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

from floww.adapters.sql.schema import Sequence, metadata
from floww.adapters.sql.types import Json, JsonOrNull, UtcDateTime

__all__ = ["dev_replies", "dev_sessions", "device_logins", "realtime_messages"]

_ID = 64
_NAME = 255

dev_sessions = Table(
    "dev_sessions",
    metadata,
    Column("workflow_id", String(_ID), primary_key=True),
    Column("session_id", String(_ID), primary_key=True),
    Column("specs", Json, nullable=False),
    Column("connected_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

dev_replies = Table(
    "dev_replies",
    metadata,
    Column("reply_id", String(_ID), primary_key=True),
    Column("answer", JsonOrNull, nullable=True),
    Column("opened_at", UtcDateTime(), nullable=False),
)

realtime_messages = Table(
    "realtime_messages",
    metadata,
    Column("id", Sequence, primary_key=True, autoincrement=True),
    Column("channel", String(_NAME), nullable=False),
    Column("message", Json, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "created_at"),
)

device_logins = Table(
    "device_logins",
    metadata,
    Column("device_digest", String(_ID), primary_key=True),
    Column("user_code", String(16), nullable=False, unique=True),
    Column("client_id", String(_NAME), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("interval", Integer(), nullable=False),
    Column("last_poll", UtcDateTime(), nullable=True),
    Column("user_id", String(_ID), nullable=True),
    Column("user_email", String(_NAME), nullable=True),
    Column("denied", Boolean(), nullable=False),
    Index(None, "expires_at"),
)
