"""Contract suites, one module per port. A suite is a set of pytest tests over one fixture;
import a suite's names into a test module and define that fixture to run it against an adapter
(``docs/testing.md`` has the table):

- ``workflow_repo``: ``repo``; ``image_registry``: ``registry``; ``function_host``: ``host``;
  ``realtime``: ``realtime``; ``replies``: ``replies``; ``userspace_runner``: ``runner``;
- ``auth`` / ``api_keys``: ``auth_harness`` / ``api_keys_harness`` (``harness.AuthHarness``);
- ``platform``: ``platform_harness`` (``platform.PlatformHarness``);
- ``image_builder``: ``image_builder_harness`` (``image_builder.ImageBuilderHarness``).
"""
