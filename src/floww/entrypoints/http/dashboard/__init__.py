"""The web dashboard at ``/ui`` (``/`` leads there): server-rendered pages over the same use
cases as the API, a small script for live execution lists, and assets served by this server
only. See ``docs/dashboard.md``."""

from __future__ import annotations

from floww.entrypoints.http.dashboard.routes import dashboard_routes
from floww.entrypoints.http.dashboard.signin import BrowserSignIn, HostedSignIn, PasswordSignIn

__all__ = ["BrowserSignIn", "HostedSignIn", "PasswordSignIn", "dashboard_routes"]
