"""What someone outside this repository gets: the ``floww`` pytest plugin loaded by its entry
point, and a shipped contract suite run against an adapter of their own."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]


def test_the_plugin_is_found_through_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        main="""
        from floww import Builtin
        builtin = Builtin()

        @builtin.webhook("/ping", methods=["GET"])
        def ping(ctx, event):
            ctx.log.info("pinged")
            return "pong"
        """,
        test_user="""
        def test_ping(floww_workflow):
            run = floww_workflow("main.py").webhook("/ping", method="GET")
            assert (run.result, run.messages) == ("pong", ["pinged"])
        """,
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_a_shipped_suite_checks_an_adapter_of_ones_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_my_replies=textwrap.dedent(
            """
            import pytest
            from floww.testing import InMemoryRealtime  # stands in for the user's adapter
            from floww.testing.contracts.realtime import *  # noqa: F403

            @pytest.fixture
            def realtime():
                return InMemoryRealtime()
            """
        )
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 5 and "failed" not in outcomes
