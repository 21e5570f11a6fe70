"""No wheel and no sdist without the component (the build hook, `hatch_build.py`).

Each test builds a copy of this package without its component: in a clone (the copy at
`python` under a workspace `Cargo.toml`) or outside one, with no cargo on PATH or with a
fake one that records how it was run and writes a stand-in component where `-o` says. No Rust
runs, and nothing is downloaded: pip builds with the hatchling of this venv (the `test` extra).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
#: What the failed build must name, and what the hook must run, from the repository's root.
COMMAND = ["cargo", "run", "--release", "--", "component", "-o"]
COMMAND += ["python/blockpart/partitioner.wasm"]
COMMAND_TEXT = " ".join(COMMAND)
#: What the fake cargo writes at its `-o` path.
STAND_IN = b"\0asm stand-in written by the fake cargo"
#: A build of this small package takes about a second; a hung one fails the test.
TIMEOUT = 120

assert importlib.util.find_spec("hatchling"), "pip install './python[test]' installs hatchling"


def package_copy(parent: Path) -> Path:
    """This package at `parent/python`, without its component (nor venv, caches or outputs)."""
    copy = parent / "python"
    shutil.copytree(
        PACKAGE,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", "partitioner.wasm", "__pycache__", ".pytest_cache", "build", "dist"
        ),
    )
    assert not (copy / "blockpart" / "partitioner.wasm").exists()
    return copy


def clone(tmp_path: Path) -> tuple[Path, Path]:
    """A repository's root with a workspace `Cargo.toml`, and the package copy in its
    `python`."""
    root = tmp_path / "clone"
    root.mkdir()
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["cli"]\n', encoding="utf-8")
    return root, package_copy(root)


def fake_cargo(tmp_path: Path) -> tuple[Path, Path]:
    """A directory holding a `cargo` that appends `[its working directory, *its arguments]` to
    the returned log, as a JSON line, then writes STAND_IN at its `-o` path."""
    bin_ = tmp_path / "fake-bin"
    bin_.mkdir()
    log = tmp_path / "cargo.log"
    cargo = bin_ / "cargo"
    cargo.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        "    log.write(json.dumps([os.getcwd(), *sys.argv[1:]]) + '\\n')\n"
        "with open(sys.argv[sys.argv.index('-o') + 1], 'wb') as out:\n"
        f"    out.write({STAND_IN!r})\n",
        encoding="utf-8",
    )
    cargo.chmod(0o755)
    return bin_, log


def cargo_runs(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def environment(*first: Path) -> dict[str, str]:
    """This environment with `first` ahead of a PATH that holds no cargo or rustc."""
    path = [str(directory) for directory in first] + [
        directory
        for directory in os.environ.get("PATH", "").split(os.pathsep)
        if not any(shutil.which(tool, path=directory) for tool in ("cargo", "rustc"))
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PATH"] = os.pathsep.join(path)
    assert shutil.which("rustc", path=env["PATH"]) is None
    return env


def build(
    target: str, package: Path, out: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`pip wheel` for a wheel; for an sdist, the backend's `build_sdist` (as `python -m build
    --sdist` calls it), in the package's directory."""
    if target == "wheel":
        command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel"]
        command += ["--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(package)]
    else:
        sdist = "import sys, hatchling.build as backend; backend.build_sdist(sys.argv[1])"
        command = [sys.executable, "-c", sdist, str(out)]
    return subprocess.run(
        command, cwd=package, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def built(out: Path) -> list[Path]:
    return sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz")) if out.exists() else []


@pytest.mark.parametrize("target", ["wheel", "sdist"])
def test_in_a_clone_without_cargo_the_build_fails_naming_the_command(
    tmp_path: Path, target: str
) -> None:
    _, package = clone(tmp_path)
    out = tmp_path / "out"
    env = environment()
    assert shutil.which("cargo", path=env["PATH"]) is None
    run = build(target, package, out, env)
    assert run.returncode != 0, run.stdout + run.stderr
    assert f"`{COMMAND_TEXT}`" in run.stdout + run.stderr
    assert "cargo is not on PATH" in run.stdout + run.stderr
    assert built(out) == []
    assert not (package / "blockpart" / "partitioner.wasm").exists()


@pytest.mark.parametrize("target", ["wheel", "sdist"])
def test_outside_a_clone_the_build_fails_naming_the_command_and_runs_no_cargo(
    tmp_path: Path, target: str
) -> None:
    # An unpacked sdist without the component: a cargo on PATH would build some other project.
    package = package_copy(tmp_path)
    bin_, log = fake_cargo(tmp_path)
    out = tmp_path / "out"
    run = build(target, package, out, environment(bin_))
    assert run.returncode != 0, run.stdout + run.stderr
    assert f"`{COMMAND_TEXT}`" in run.stdout + run.stderr
    assert cargo_runs(log) == []
    assert built(out) == []


def test_in_a_clone_with_cargo_the_build_runs_the_command_at_the_root_and_the_wheel_carries_it(
    tmp_path: Path,
) -> None:
    root, package = clone(tmp_path)
    bin_, log = fake_cargo(tmp_path)
    out = tmp_path / "out"
    run = build("wheel", package, out, environment(bin_))
    assert run.returncode == 0, run.stdout + run.stderr
    assert cargo_runs(log) == [[str(root), *COMMAND[1:]]]
    [wheel] = built(out)
    with zipfile.ZipFile(wheel) as contents:
        assert contents.read("blockpart/partitioner.wasm") == STAND_IN


def test_an_sdist_carries_the_component_and_builds_a_wheel_with_no_repository_around(
    tmp_path: Path,
) -> None:
    root, package = clone(tmp_path)
    bin_, log = fake_cargo(tmp_path)
    sdists = tmp_path / "sdists"
    run = build("sdist", package, sdists, environment(bin_))
    assert run.returncode == 0, run.stdout + run.stderr
    assert cargo_runs(log) == [[str(root), *COMMAND[1:]]]
    [sdist] = built(sdists)
    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as contents:
        top = sdist.name.removesuffix(".tar.gz")
        assert contents.extractfile(f"{top}/blockpart/partitioner.wasm").read() == STAND_IN
        # The filter where this Python has it (3.10.12, 3.11.4, 3.12): it is the default in 3.14.
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        contents.extractall(unpacked, **safe)

    wheels = tmp_path / "wheels"
    run = build("wheel", unpacked / top, wheels, environment(bin_))
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(cargo_runs(log)) == 1, "the sdist's component is used as it is"
    [wheel] = built(wheels)
    with zipfile.ZipFile(wheel) as contents:
        assert contents.read("blockpart/partitioner.wasm") == STAND_IN
