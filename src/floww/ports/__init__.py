"""The ports: one ``typing.Protocol`` per role the use cases depend on."""
