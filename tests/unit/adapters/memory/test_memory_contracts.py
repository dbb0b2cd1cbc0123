"""What only the in-memory adapters promise: the helpers and counters tests rely on, and the
support ports (clock, ids, secret box, prompter, image builder). The port contracts themselves
run on these adapters through ``tests/contracts``."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from datetime import UTC, datetime, timedelta

import pytest

from floww.adapters.inprocess import RandomIds, SystemClock
from floww.adapters.memory import (
    FakeImageBuilder,
    InMemoryIdentity,
    InMemoryImageRegistry,
    InMemoryRealtime,
    InMemorySecretBox,
    InMemoryWorkflowRepo,
    ManualClock,
    ScriptedPrompter,
    SequentialIds,
)
from floww.adapters.memory.prompter import AskedField
from floww.domain.errors import InvalidInput, Unauthenticated
from floww.domain.model import Namespace, Provider, ProviderField, RuntimeTarget
from floww.domain.oci import blob_digest

TARGET = RuntimeTarget("linux/amd64", "3.12", "public.ecr.aws/lambda/python:3.12")


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=UTC))
    assert clock.advance(90) == datetime(2024, 1, 1, 0, 1, 30, tzinfo=UTC)
    assert clock.now() == datetime(2024, 1, 1, 0, 1, 30, tzinfo=UTC)
    assert clock.monotonic() == 90
    with pytest.raises(InvalidInput):
        clock.advance(-1)
    with pytest.raises(InvalidInput):
        ManualClock(datetime(2024, 1, 1))


def test_system_clock_is_aware() -> None:
    assert SystemClock().now().tzinfo is not None


def test_ids() -> None:
    random_id = RandomIds().new_id("wf")
    assert random_id.startswith("wf_") and len(random_id) == 3 + 20
    assert RandomIds().new_id("wf") != random_id
    sequential = SequentialIds()
    assert [sequential.new_id("wf"), sequential.new_id("ex"), sequential.new_id("wf")] == [
        "wf_000001",
        "ex_000001",
        "wf_000002",
    ]


class TestSecretBox:
    def test_round_trip_and_randomised(self) -> None:
        box = InMemorySecretBox()
        sealed = box.seal(b"top secret")
        assert b"top secret" not in sealed
        assert box.seal(b"top secret") != sealed
        assert box.open(sealed) == b"top secret"
        assert box.open(box.seal(b"")) == b""

    @pytest.mark.parametrize("position", [0, 5, 20, -1])
    def test_tampering_is_detected(self, position: int) -> None:
        box = InMemorySecretBox()
        sealed = bytearray(box.seal(b"a" * 40))
        sealed[position] ^= 0x01
        with pytest.raises(InvalidInput):
            box.open(bytes(sealed))

    def test_foreign_key_and_garbage_are_rejected(self) -> None:
        sealed = InMemorySecretBox(b"k" * 32).seal(b"x")
        assert InMemorySecretBox(b"k" * 32).open(sealed) == b"x"
        with pytest.raises(InvalidInput):
            InMemorySecretBox(b"j" * 32).open(sealed)
        with pytest.raises(InvalidInput):
            InMemorySecretBox().open(b"short")


def test_repo_keeps_provider_configs_sealed() -> None:
    class RecordingBox(InMemorySecretBox):
        sealed: list[bytes] = []

        def seal(self, plaintext: bytes) -> bytes:
            out = super().seal(plaintext)
            self.sealed.append(out)
            return out

    box = RecordingBox()
    repo = InMemoryWorkflowRepo(box)
    repo.create_namespace(Namespace("ns", "acme", datetime(2024, 1, 1, tzinfo=UTC)))
    repo.put_provider(Provider("pr", "ns", "slack", "default", {"token": "xoxb-1"}))
    assert box.sealed and all(b"xoxb-1" not in blob for blob in box.sealed)
    assert repo.list_providers("ns")[0].config == {"token": "xoxb-1"}


class TestImageRegistryExtras:
    def test_pushes_count_uploads_not_repeats(self) -> None:
        registry = InMemoryImageRegistry()
        image = FakeImageBuilder("1.0").build(TARGET, ["requests"]).image
        registry.push("floww/a", "t1", image)
        registry.push("floww/a", "t1", image)
        registry.push("floww/a", "t2", image)
        assert registry.pushes == 1
        registry.push("floww/b", "t1", image)
        assert registry.pushes == 2
        assert registry.tags("floww/a") == {"t1": image.digest, "t2": image.digest}

    def test_credentials_remember_their_scope(self) -> None:
        registry = InMemoryImageRegistry("registry.example")
        credentials = registry.push_credentials("ns_1", "floww/ns-1")
        assert credentials.registry == "registry.example"
        assert registry.scope_of(credentials.password) == ("ns_1", "floww/ns-1")
        assert registry.scope_of("guess") is None
        assert [i.repository for i in registry.issued] == ["floww/ns-1"]


class TestFakeImageBuilder:
    def test_spec_hash_ignores_requirement_order_but_not_content(self) -> None:
        builder = FakeImageBuilder("1.0")
        base = builder.spec_hash(TARGET, ["b==1", "a==2"])
        assert base == builder.spec_hash(TARGET, ["a==2", "b==1"])
        assert base != builder.spec_hash(TARGET, ["a==2"])
        assert base != FakeImageBuilder("1.1").spec_hash(TARGET, ["a==2", "b==1"])
        other_target = RuntimeTarget("linux/arm64", "3.12", TARGET.base_image)
        assert base != builder.spec_hash(other_target, ["a==2", "b==1"])

    def test_build_is_deterministic_and_counted(self) -> None:
        builder = FakeImageBuilder("1.0")
        first = builder.build(TARGET, ["requests>=2", "attrs==23.2.0"])
        second = builder.build(TARGET, ["attrs==23.2.0", "requests>=2"])
        assert first == second
        assert first.tag == builder.spec_hash(TARGET, ["requests>=2", "attrs==23.2.0"])
        assert builder.builds == 2

    def test_build_makes_a_real_image(self) -> None:
        built = FakeImageBuilder("1.0").build(TARGET, ["requests"])
        config = json.loads(built.image.config)
        (layer,) = built.image.layers
        tar_bytes = gzip.decompress(layer)
        assert config["rootfs"]["diff_ids"] == [blob_digest(tar_bytes)]
        assert config["architecture"] == "amd64"
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
            member = archive.extractfile("floww-requirements.txt")
            assert member is not None and member.read() == b"requests\n"

    def test_uninstallable_requirements_are_invalid(self) -> None:
        with pytest.raises(InvalidInput):
            FakeImageBuilder().build(TARGET, ["--index-url http://evil"])


class TestScriptedPrompter:
    def test_answers_by_name_and_records(self) -> None:
        prompter = ScriptedPrompter({"slack.token": "xoxb", "url": "https://x"}, confirms=[True])
        assert prompter.ask(ProviderField("token", secret=True), provider="slack") == "xoxb"
        assert prompter.ask(ProviderField("url"), provider="jira") == "https://x"
        assert prompter.confirm("Create workflow?") is True
        prompter.say("done")
        assert prompter.asked == [
            AskedField("slack", "token", True),
            AskedField("jira", "url", False),
        ]
        assert prompter.questions == ["Create workflow?"]
        assert prompter.said == ["done"]

    def test_answers_in_order_and_fails_loudly(self) -> None:
        prompter = ScriptedPrompter(["one"])
        assert prompter.ask(ProviderField("a"), provider="p") == "one"
        with pytest.raises(InvalidInput):
            prompter.ask(ProviderField("b"), provider="p")
        assert prompter.confirm("sure?", default=True) is True


class TestAuthExtras:
    def test_issue_verify_revoke_expire(self) -> None:
        clock = ManualClock()
        auth = InMemoryIdentity(clock)
        user = auth.create_user("ada@example.com")
        assert auth.create_user("ada@example.com") == user
        token = auth.issue_token(user, ttl_seconds=10)
        assert auth.verify(token) == user
        clock.advance(timedelta(seconds=10).total_seconds())
        with pytest.raises(Unauthenticated):
            auth.verify(token)
        fresh = auth.issue_token(user)
        auth.revoke(fresh)
        with pytest.raises(Unauthenticated):
            auth.verify(fresh)


def test_realtime_logs_published_messages() -> None:
    realtime = InMemoryRealtime()
    realtime.publish("workflow:1", {"n": 1})
    subscription = realtime.subscribe("workflow:1")
    assert realtime.subscriber_count("workflow:1") == 1
    subscription.close()
    assert realtime.subscriber_count("workflow:1") == 0
    assert realtime.published == [("workflow:1", {"n": 1})]
    with pytest.raises(InvalidInput):
        realtime.publish("workflow:1", {"when": datetime.now(UTC)})


def test_in_process_runner_keeps_the_last_good_code() -> None:
    pytest.importorskip("floww.sdk.runtime", reason="the SDK runtime is not available")
    from floww.adapters.inprocess import InProcessRunner
    from floww.adapters.inprocess.userspace import KEPT_INVOCATIONS
    from floww.domain.errors import UserCodeError
    from floww.domain.model import CodeBundle, ExecutionContext, Invocation

    good = CodeBundle(
        "main.py",
        {
            "main.py": "from floww import Builtin\n"
            "builtin = Builtin()\n"
            "@builtin.manual('go')\n"
            "def go(ctx, event):\n"
            "    return 42\n"
        },
    )
    runner = InProcessRunner()
    definitions = runner.load(good, {})
    (spec,) = definitions.triggers
    with pytest.raises(UserCodeError):
        runner.load(CodeBundle("main.py", {"main.py": "raise RuntimeError('no')\n"}), {})
    assert runner.loaded == good and runner.definitions == definitions
    context = ExecutionContext("ex_1", "tok", "http://127.0.0.1:9", 5_000, "wf_1")
    result = runner.invoke(Invocation(good, spec, {"input": {}}, {}, context))
    assert (result.ok, result.result) == (True, 42), result.error
    assert len(runner.invocations) == 1
    for _ in range(KEPT_INVOCATIONS + 20):  # a long dev session keeps only the last ones
        runner.invoke(Invocation(good, spec, {"input": {}}, {}, context))
    assert len(runner.invocations) == KEPT_INVOCATIONS


def test_random_ids_are_valid_registry_path_components() -> None:
    import re

    from floww.adapters.inprocess import RandomIds

    ids = RandomIds()
    component = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$")
    assert all(component.match(ids.new_id("ns")) for _ in range(500))


def test_random_ids_spell_the_base32_of_their_random_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import base64
    import os

    from floww.adapters.inprocess import RandomIds, ids

    for raw in [bytes(13), b"\xff" * 13, *(os.urandom(13) for _ in range(200))]:
        monkeypatch.setattr(ids, "random_bytes", lambda n, raw=raw: raw)
        expected = base64.b32encode(raw).decode("ascii")[:20].lower()
        assert RandomIds().new_id("exe") == f"exe_{expected}"
