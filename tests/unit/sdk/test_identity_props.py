"""Trigger identity does not depend on how a dict's keys happen to be ordered."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floww.domain.model import ProviderRef, TriggerSpec
from floww.sdk.collector import load_code
from floww.sdk.wire import spec_from_wire, spec_to_wire

from .conftest import make_bundle

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=5)


def reorder(value: Any, rng: random.Random) -> Any:
    """The same value with the keys of every dict, at every depth, in another order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: reorder(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [reorder(item, rng) for item in value]
    return value


@given(json_objects, st.randoms(use_true_random=False))
def test_identity_is_invariant_under_key_reordering(
    input: dict[str, Any], rng: random.Random
) -> None:
    original = TriggerSpec(ProviderRef("github", "x"), "push", input)
    shuffled = TriggerSpec(ProviderRef("github", "x"), "push", reorder(input, rng))
    assert original.identity == shuffled.identity
    assert original.key == shuffled.key
    assert spec_from_wire(spec_to_wire(shuffled)).identity == original.identity


_SOURCE = """
from floww import Provider
from floww.domain.model import ProviderField

class Custom(Provider):
    type = "custom"
    fields = (ProviderField("token", secret=True),)
    def on(self, input):
        return self._trigger("event", input)

INPUT = {input!r}
Custom().on(INPUT)(print)
"""


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("code-cache")


@settings(max_examples=25, deadline=None)
@given(input=json_objects, rng=st.randoms(use_true_random=False))
def test_a_declared_trigger_is_found_whatever_the_key_order(
    shared_cache: Path, input: dict[str, Any], rng: random.Random
) -> None:
    code = make_bundle({"main.py": _SOURCE.format(input=input)})
    loaded = load_code(code, cache_root=shared_cache)
    spec = TriggerSpec(ProviderRef("custom"), "event", reorder(input, rng))
    assert loaded.handler_for(spec) is print
