"""Provider webhooks registered through the providers' REST APIs
(``floww.ports.provider_hooks``)."""

from floww.adapters.provider_hooks.rest import RestProviderHooks

__all__ = ["RestProviderHooks"]
