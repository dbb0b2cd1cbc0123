"""Contract suites, one module per port. A suite is a set of pytest tests over one fixture
(``repo``, ``registry``, ``host``, ``realtime``, ``replies``, ``auth_harness``,
``api_keys_harness``); import a suite's names into a test module and define that fixture to run
it against an adapter."""
