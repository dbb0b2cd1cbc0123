"""Centrifugo as the realtime service: publications through its server HTTP API
(``CentrifugoRealtime``), and the caller of the connect/subscribe proxies that the embedded hub
uses when it plays Centrifugo (``HttpProxyCaller``). See docs/cloud-realtime.md."""

from floww.adapters.centrifugo.proxy_caller import HttpProxyCaller
from floww.adapters.centrifugo.realtime import CentrifugoRealtime

__all__ = ["CentrifugoRealtime", "HttpProxyCaller"]
