"""Client-side adapters: ports implemented by calling a floww server (or a registry) over HTTP."""
