from __future__ import annotations

from pathlib import Path

import pytest

from floww.domain.errors import NotFound, UserCodeError
from floww.domain.model import ProviderRef, TriggerSpec
from floww.sdk.collector import bundle_from_directory, load_code

from .conftest import EXAMPLES, Load, make_bundle

BUILTIN = ProviderRef("builtin", "default")


def test_collects_the_hello_example(cache_root: Path) -> None:
    code = bundle_from_directory(EXAMPLES / "hello", "main.py")
    loaded = load_code(code, cache_root=cache_root)

    assert loaded.digest == code.digest
    assert loaded.definitions.triggers == (
        TriggerSpec(BUILTIN, "webhook", {"path": "/hello/{name}", "methods": ["POST"]}),
        TriggerSpec(BUILTIN, "cron", {"expression": "*/5 * * * *"}),
        TriggerSpec(BUILTIN, "manual", {"name": "greet"}),
    )
    assert loaded.definitions.providers == ()
    assert [spec.identity for spec in loaded.definitions.triggers] == [
        ("builtin", "default", "webhook", '{"methods":["POST"],"path":"/hello/{name}"}'),
        ("builtin", "default", "cron", '{"expression":"*/5 * * * *"}'),
        ("builtin", "default", "manual", '{"name":"greet"}'),
    ]
    assert loaded.handler_for(loaded.definitions.triggers[2]).__name__ == "greet"


def test_decorators_normalise_their_inputs_and_return_the_function(load: Load) -> None:
    loaded = load(
        {
            "main.py": """
            from floww import Builtin
            builtin = Builtin()

            def plain(ctx, event):
                return 42

            same = builtin.webhook("//orders//{id}/", methods=["put", "get", "PUT"])(plain)
            builtin.cron("0   3 * * 1")(plain)
            builtin.manual(plain)
            assert same is plain and plain(None, None) == 42
            """
        }
    )
    assert [spec.input for spec in loaded.definitions.triggers] == [
        {"path": "/orders/{id}", "methods": ["GET", "PUT"]},
        {"expression": "0 3 * * 1"},
        {"name": "plain"},
    ]


def test_unknown_trigger_is_not_found(load: Load) -> None:
    loaded = load({"main.py": "x = 1\n"})
    assert loaded.definitions.triggers == ()
    with pytest.raises(NotFound):
        loaded.handler_for(TriggerSpec(BUILTIN, "manual", {"name": "nope"}))


def test_duplicate_trigger_points_at_the_second_declaration(load: Load) -> None:
    with pytest.raises(UserCodeError) as caught:
        load(
            {
                "main.py": """
                from floww import Builtin
                builtin = Builtin()

                @builtin.webhook("/a", methods=["POST"])
                def first(ctx, event): ...

                @builtin.webhook("/a/", methods=["post"])
                def second(ctx, event): ...
                """
            }
        )
    error = caught.value
    assert (error.filename, error.lineno) == ("main.py", 7)
    assert "duplicate trigger webhook POST /a" in error.reason
    assert "main.py:4" in error.reason


def test_syntax_error_names_file_and_line(load: Load) -> None:
    with pytest.raises(UserCodeError) as caught:
        load({"main.py": "import helper\n", "helper.py": "x = 1\ndef broken(:\n    pass\n"})
    assert (caught.value.filename, caught.value.lineno) == ("helper.py", 2)
    assert caught.value.reason.startswith("SyntaxError")


def test_import_time_exception_names_the_deepest_frame_in_the_bundle(load: Load) -> None:
    with pytest.raises(UserCodeError) as caught:
        load(
            {
                "main.py": "import json\nimport helper\n",
                "helper.py": "import json\n\ndef boom():\n    json.loads('{')\n\nboom()\n",
            }
        )
    error = caught.value
    assert (error.filename, error.lineno) == ("helper.py", 4)
    assert error.reason.startswith("JSONDecodeError")
    assert error.traceback is not None and 'File "helper.py", line 4' in error.traceback


@pytest.mark.parametrize(
    ("decorator", "problem"),
    [
        ('@builtin.webhook("no-slash")', "must start with '/'"),
        ('@builtin.webhook("/x", methods=["FETCH"])', "unknown HTTP method"),
        ('@builtin.webhook("/x", methods=[])', "non-empty"),
        ('@builtin.cron("* * *")', "5 fields"),
        ('@builtin.cron("61 * * * *")', "invalid cron"),
        ("@github.on_push(owner='', repository='api')", "owner"),
    ],
)
def test_invalid_declaration_points_at_the_decorator(
    load: Load, decorator: str, problem: str
) -> None:
    source = (
        "from floww import Builtin, GitHub\nbuiltin = Builtin()\ngithub = GitHub()\n\n"
        f"{decorator}\ndef handler(ctx, event): ...\n"
    )
    with pytest.raises(UserCodeError) as caught:
        load({"main.py": source})
    assert (caught.value.filename, caught.value.lineno) == ("main.py", 5)
    assert problem in caught.value.reason


def test_missing_entrypoint(load: Load) -> None:
    with pytest.raises(UserCodeError) as caught:
        load({"other.py": "x = 1\n"}, entrypoint="main.py")
    assert caught.value.filename == "main.py"
    assert "not found" in caught.value.reason


def test_nested_entrypoint_imports_its_siblings(load: Load) -> None:
    loaded = load(
        {
            "app/__init__.py": "",
            "app/flows.py": "from floww import Builtin\nfrom app.names import NAME\n"
            "builtin = Builtin()\nbuiltin.manual(NAME)(print)\n",
            "app/names.py": "NAME = 'nested'\n",
        },
        entrypoint="app/flows.py",
    )
    assert loaded.definitions.triggers[0].input == {"name": "nested"}


def test_a_changed_sibling_module_is_picked_up_on_a_new_digest(load: Load) -> None:
    main = "from floww import Builtin\nfrom names import NAME\nBuiltin().manual(NAME)(print)\n"
    first = load({"main.py": main, "names.py": "NAME = 'one'\n"})
    second = load({"main.py": main, "names.py": "NAME = 'two'\n"})
    again = load({"main.py": main, "names.py": "NAME = 'one'\n"})

    assert first.digest != second.digest
    assert first.definitions.triggers[0].input == {"name": "one"}
    assert second.definitions.triggers[0].input == {"name": "two"}
    assert again.definitions == first.definitions  # same digest loads (and collects) again


def test_materialised_code_is_reused(cache_root: Path) -> None:
    code = make_bundle({"main.py": "x = 1\n"})
    load_code(code, cache_root=cache_root)
    directory = cache_root / code.digest.removeprefix("sha256:")
    (directory / "marker").write_text("kept")
    load_code(code, cache_root=cache_root)
    assert (directory / "marker").read_text() == "kept"
    assert [p.name for p in cache_root.iterdir()] == [directory.name]


def test_bundle_paths_may_not_escape(load: Load) -> None:
    with pytest.raises(UserCodeError):
        load({"main.py": "x = 1\n", "../evil.py": "x = 2\n"})


def test_bundle_from_directory_reads_the_project(tmp_path: Path) -> None:
    for name, text in {
        "main.py": "import lib.util\n",
        "lib/util.py": "X = 'é'\n",
        "requirements.txt": "requests\n",
        "README.md": "not code\n",
        ".venv/lib/site.py": "skipped\n",
        "venv/x.py": "skipped\n",
        "node_modules/y.py": "skipped\n",
        "lib/__pycache__/util.py": "skipped\n",
        ".hidden/z.py": "skipped\n",
    }.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    code = bundle_from_directory(tmp_path, "main.py")

    assert list(code.files) == ["lib/util.py", "main.py", "requirements.txt"]
    assert code.files["lib/util.py"] == "X = 'é'\n"
    with pytest.raises(UserCodeError):
        bundle_from_directory(tmp_path, "missing.py")


def test_a_provider_written_in_user_code_reports_its_use(load: Load) -> None:
    source = """
    from floww import Provider
    from floww.domain.model import ProviderField

    class YouTrack(Provider):
        type = "youtrack"
        fields = (ProviderField("token", secret=True),)
        def on_issue(self, project):
            return self._trigger("issue", {"project": project})

    tracker = YouTrack()
    tracker.on_issue("OPS")(print)
    tracker.on_issue(object())(print)
    """
    with pytest.raises(UserCodeError) as caught:
        load({"main.py": source})
    assert (caught.value.filename, caught.value.lineno) == ("main.py", 12)
    assert "not JSON" in caught.value.reason


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        (
            "class Notion(Provider):\n    type = 'notion'\n\nnotion = Notion()",
            "unknown provider type 'notion'",
        ),
        ("class Nameless(Provider):\n    pass\n\nthing = Nameless()", "does not name its type"),
    ],
)
def test_an_unknown_provider_names_the_line_that_made_it(
    load: Load, declaration: str, expected: str
) -> None:
    source = "from floww import Provider\n\n" + declaration + "\n"
    with pytest.raises(UserCodeError) as caught:
        load({"main.py": source})
    assert (caught.value.filename, caught.value.lineno) == ("main.py", 6)
    assert expected in caught.value.reason
