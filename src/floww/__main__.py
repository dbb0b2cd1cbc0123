"""``python -m floww``: the same as the ``floww`` command."""

from floww.bootstrap import main

main()
