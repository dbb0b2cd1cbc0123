"""``python -m floww.entrypoints.cli``: the same as the ``floww`` script."""

from floww.entrypoints.cli.main import main

main()
