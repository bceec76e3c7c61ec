"""The project's own rules, checked on the source (AST), so they hold by test rather than by hope."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "ai_worker"


def _modules(*roots: Path) -> Iterator[Path]:
    for root in roots:
        yield from sorted(root.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_library_tree_is_not_empty() -> None:
    assert len(list(_modules(LIBRARY))) > 10


def test_video_never_imports_tts() -> None:
    offenders = [
        _rel(path)
        for path in _modules(LIBRARY)
        if any(name == "ai_worker.tts" or name.startswith("ai_worker.tts.") for name in _imported_names(_tree(path)))
    ]
    assert offenders == []


def test_no_print_in_library_code() -> None:
    offenders = []
    for path in _modules(LIBRARY):
        if "cli" in path.relative_to(LIBRARY).parts:
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{_rel(path)}:{node.lineno}")
    assert offenders == []


def test_environment_is_read_only_in_settings() -> None:
    offenders = []
    for path in _modules(LIBRARY, ROOT / "config"):
        if path == ROOT / "config" / "settings.py":
            continue
        for node in ast.walk(_tree(path)):
            reads_os = (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in {"environ", "getenv", "putenv", "environb"}
            )
            imports_env = (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(alias.name in {"environ", "getenv"} for alias in node.names)
            )
            if reads_os or imports_env:
                offenders.append(f"{_rel(path)}:{getattr(node, 'lineno', 0)}")
    assert offenders == []


def test_paths_use_pathlib_not_os_path() -> None:
    offenders = []
    for path in _modules(LIBRARY):
        tree = _tree(path)
        if "os.path" in _imported_names(tree):
            offenders.append(_rel(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "path"
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                offenders.append(f"{_rel(path)}:{node.lineno}")
    assert offenders == []


def test_loggers_are_named_after_their_module() -> None:
    offenders = []
    for path in _modules(LIBRARY):
        if "cli" in path.relative_to(LIBRARY).parts:
            continue  # the CLI configures third-party loggers by name
        for node in ast.walk(_tree(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "getLogger"
            ):
                args = node.args
                if len(args) != 1 or not (isinstance(args[0], ast.Name) and args[0].id == "__name__"):
                    offenders.append(f"{_rel(path)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("package", ["ollama"])
def test_llm_is_reached_only_through_the_llm_client(package: str) -> None:
    offenders = [
        _rel(path)
        for path in _modules(LIBRARY)
        if path != LIBRARY / "prompts" / "llm_client.py"
        and any(name == package or name.startswith(package + ".") for name in _imported_names(_tree(path)))
    ]
    assert offenders == []


def test_nothing_runs_at_import_time() -> None:
    """Module bodies hold definitions only: no calls except to build constants, loggers and type aliases."""
    allowed_calls = {"getLogger", "TypeVar", "compile", "frozenset", "tuple", "dict", "set", "list", "field",
                     "Field", "ConfigDict", "SettingsConfigDict", "Path", "Typer", "NewType", "ParamSpec",
                     "Literal", "cast", "Annotated", "BeforeValidator", "PlainSerializer", "Option", "Argument",
                     "resolve", "datetime", "timedelta"}
    offenders = []
    for path in _modules(LIBRARY):
        for stmt in _tree(path).body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                offenders.append(f"{_rel(path)}:{stmt.lineno}")
            if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
                for node in ast.walk(stmt.value):
                    if isinstance(node, ast.Call):
                        func = node.func
                        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                        if name not in allowed_calls:
                            offenders.append(f"{_rel(path)}:{stmt.lineno} ({name})")
    assert offenders == []


IO_LIBRARIES = ("httpx", "websockets", "av", "PIL", "ollama", "aiohttp")


@pytest.mark.parametrize(
    "module",
    [
        "ai_worker.orchestration.scheduler",
        "ai_worker.orchestration.error_policy",
        "ai_worker.orchestration.ladder",
        "ai_worker.video",
        "ai_worker.model",
    ],
)
def test_pure_core_imports_no_io_library(module: str) -> None:
    """The scheduler, the ladder and the error policy are pure, and package faces load no backend: importing
    one alone (in a fresh interpreter) loads none of the I/O libraries."""
    import subprocess
    import sys

    code = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        f"print(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == ""


def test_package_faces_import_nothing_eagerly() -> None:
    """Package `__init__` files hold no imports of the project's modules (the spec's `ai_worker.video` face
    resolves its names lazily), so importing a package never drags in its neighbours."""
    offenders = []
    for init in LIBRARY.rglob("__init__.py"):
        tree = _tree(init)
        for stmt in tree.body:
            if isinstance(stmt, ast.Import | ast.ImportFrom) and any(
                name.startswith("ai_worker") for name in _imported_names(ast.Module(body=[stmt], type_ignores=[]))
            ):
                offenders.append(f"{_rel(init)}:{stmt.lineno}")
    assert offenders == []


def test_seed_public_api_resolves_lazily() -> None:
    import ai_worker.video as face

    for name in face.__all__:
        assert getattr(face, name) is not None
    with pytest.raises(AttributeError):
        _ = face.NoSuchThing
