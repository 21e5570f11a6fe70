"""The package's build hook: no wheel and no sdist without the partitioner component.

The component (`blockpart/partitioner.wasm`) is not in git. Built in a clone (this package at
`python`, under the workspace's `Cargo.toml`) with cargo on PATH, the hook makes it when it
is missing, by the one command that makes it, run from the repository's root. Anywhere else (a
clone without cargo, an sdist unpacked without the component) the build stops and names that
command. An sdist made here carries the component, so a wheel built from it needs no Rust.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: The component, in the package.
COMPONENT = Path("blockpart", "partitioner.wasm")
#: The package, in the repository.
PACKAGE = Path("python")
#: The one command that makes the component, from the repository's root (`.ci/run`, the
#: package's README and `blockpart.Partitioner`'s error name the same).
COMMAND = ["cargo", "run", "--release", "--", "component", "-o", str(PACKAGE / COMPONENT)]


class ComponentHook(BuildHookInterface):
    """Puts the component in the package before hatchling collects the files of a wheel or an
    sdist (both list it in `artifacts`, as git ignores it)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        component = Path(self.root, COMPONENT)
        if component.is_file():
            return
        root = repository_root(Path(self.root))
        cargo = shutil.which("cargo")
        if root is None:
            refuse(component, f"{self.root} is not {PACKAGE} in a Cargo workspace")
        if cargo is None:
            refuse(component, "cargo is not on PATH")
        self.app.display_info(f"{COMPONENT} is missing: running `{shlex.join(COMMAND)}` in {root}")
        # Its output goes to the build's: cargo's errors are the ones to read.
        ran = subprocess.run([cargo, *COMMAND[1:]], cwd=root, check=False)
        if ran.returncode != 0:
            refuse(component, f"`{shlex.join(COMMAND)}` failed with exit status {ran.returncode}")
        if not component.is_file():
            refuse(component, f"`{shlex.join(COMMAND)}` succeeded but did not write it")


def repository_root(package: Path) -> Path | None:
    """The repository holding `package` at `python`, when its root has the workspace's
    `Cargo.toml`; None for anything else (an unpacked sdist), whose `cargo run` would be
    another project's."""
    package = package.resolve()
    if package.parts[-len(PACKAGE.parts) :] != PACKAGE.parts:
        return None
    manifest = package.parents[len(PACKAGE.parts) - 1] / "Cargo.toml"
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return manifest.parent if "[workspace]" in (line.strip() for line in lines) else None


def refuse(component: Path, reason: str) -> NoReturn:
    raise RuntimeError(
        f"no partitioner component at {component} ({reason}), and the package is never built "
        f"without it: in a clone of blockpart, run `{shlex.join(COMMAND)}` from the "
        "repository's root, then build again"
    )
