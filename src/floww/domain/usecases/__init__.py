"""The use cases: plain functions over ports. Dependencies are parameters; nothing here reads
settings, globals or a container."""
