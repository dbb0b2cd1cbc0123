"""Embedded defaults for a single machine: everything a ``floww serve`` needs without outside
services (local auth and key files, secret box, image registry, function host, realtime hub).
Import the adapter modules directly, for example ``floww.adapters.local.identity``."""
