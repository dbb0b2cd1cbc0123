"""Testing support shipped with floww: the port contract suites (``floww.testing.contracts``)."""
