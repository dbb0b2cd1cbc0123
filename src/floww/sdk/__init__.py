"""The userspace SDK and the runtime entry.

Modules, by meaning:

- ``declarations``  the registry that importing user code fills (trigger specs, provider usage)
- ``config``        provider configs injected for the current invocation (a ContextVar)
- ``providers``     ``Provider`` and the provider types: ``Secret``, ``GitHub``, ``Slack``
- ``builtin``       ``Builtin``: webhooks, cron schedules, manual runs
- ``catalog``       the provider types a server can offer, with their setup fields
- ``events``        what handlers receive, and its wire form
- ``logs``          ``ctx.log`` and the capture of ``print()``
- ``kv``            ``ctx.kv`` and its backends
- ``context``       ``Context``, the first argument of every handler
- ``response``      ``Response`` and the wire form of handler results
- ``bundle``        code bundles on disk: read a project, materialise a bundle
- ``collector``     load a bundle: import it with a registry active, return its definitions
- ``wire``          the runtime contract's codecs
- ``runtime``       ``handle(payload)`` and the stdin/stdout worker loop

Everything here imports the standard library, ``attrs`` and ``floww.domain`` only: it runs
inside the user's runtime.
"""
