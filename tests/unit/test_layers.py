"""The import graph of `durable_runs` points only down the layers (lazy imports included)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "durable_runs"

LAYERS: dict[str, int] = {
    "durable_runs.models": 1,
    "durable_runs.options": 1,
    "durable_runs.settings": 1,
    "durable_runs.search_attributes": 1,
    "durable_runs.serving": 1,
    "durable_runs.temporal": 1,
    "durable_runs.payloads": 1,
    "durable_runs.codec_keys": 1,
    "durable_runs.telemetry": 1,
    "durable_runs.workflow_names": 1,
    "durable_runs.activities": 2,
    "durable_runs.workflows": 3,
    "durable_runs.plugin": 4,
    "durable_runs.agents": 4,
    "durable_runs.worker": 4,
    "durable_runs.bridge": 4,
    "durable_runs.codec_server": 4,
    "durable_runs.console": 4,
    "durable_runs.client": 4,
    "durable_runs.cli": 5,
    "durable_runs.stack": 5,
    "durable_runs.processes": 5,
    "durable_runs.devserver": 5,
    "durable_runs.demo": 5,
    "durable_runs.demo_approvals": 5,
    "durable_runs.chat_demo": 5,
    "durable_runs.agents_demo": 5,
    "durable_runs": 5,
}
"""1 foundation, 2 activities, 3 workflows, 4 services, 5 entry points (the package root is
the public front: it names the plugin)."""

BESIDE = ("durable_runs_emulator", "bench", "tests")
"""What sits beside the product: the product never imports it."""


def layer_of(module: str) -> int:
    """The layer of a module of ours: its longest listed prefix."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        layer = LAYERS.get(".".join(parts[:end]))
        if layer is not None:
            return layer
    raise KeyError(f"{module} is in no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    """`durable_runs/bridge/app.py` -> `durable_runs.bridge.app` (links followed as named)."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str) -> list[str]:
    """Every module an import statement names, at any depth of the file."""
    package = module if module == "durable_runs" else module.rsplit(".", 1)[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append(target)
            # `from durable_runs import client` imports the submodule `durable_runs.client`.
            found.extend(f"{target}.{alias.name}" for alias in node.names)
    return found


def violations(module: str, source: str) -> list[str]:
    """Upward imports and imports of what sits beside the product, in one module's source."""
    own = layer_of(module)
    bad: list[str] = []
    for target in imports_of(source, module):
        root = target.split(".")[0]
        if root in BESIDE:
            bad.append(f"{module} imports {target}, which sits beside the product")
        elif target != "durable_runs" and (target in LAYERS or _is_module(target)):
            # The bare package root is no edge: every import of a module of ours runs it first.
            if layer_of(target) > own:
                bad.append(f"{module} (layer {own}) imports {target} (layer {layer_of(target)})")
    return bad


def _is_module(target: str) -> bool:
    if not target.startswith("durable_runs."):
        return False
    path = PACKAGE.parent.joinpath(*target.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def product_modules() -> list[Path]:
    """Every module of the package, through its linked folders."""
    return sorted(
        Path(folder, name)
        for folder, _, names in os.walk(PACKAGE, followlinks=True)
        for name in names
        if name.endswith(".py")
    )


def test_every_import_points_down() -> None:
    modules = product_modules()
    assert any(module_name(p).startswith("durable_runs.workflows.") for p in modules)
    assert any(module_name(p).startswith("durable_runs.activities.") for p in modules)
    found = [v for p in modules for v in violations(module_name(p), p.read_text())]
    assert found == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "durable_runs.models",
            "from durable_runs.client import run",
            "imports durable_runs.client",
        ),
        (
            "durable_runs.activities.tools",
            "def later():\n    from durable_runs.workflows import run\n",
            "imports durable_runs.workflows",
        ),
        ("durable_runs.workflows.run", "import durable_runs.worker", "imports durable_runs.worker"),
        ("durable_runs.bridge.app", "from ..cli import main", "imports durable_runs.cli"),
        ("durable_runs.worker", "from durable_runs_emulator import app", "beside the product"),
    ],
)
def test_the_check_catches_a_planted_upward_import(module: str, source: str, expected: str) -> None:
    (found,) = violations(module, source)[:1]
    assert expected in found


def test_downward_and_sideways_imports_pass() -> None:
    source = "from durable_runs.models import RunRequest\nfrom durable_runs.bridge import state\n"
    assert violations("durable_runs.bridge.app", source) == []
