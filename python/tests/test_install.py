"""`pip install ./python` into a fresh venv gives a package that runs with no Rust.

The wheel must carry the component (it is not in git: the build step, or the build hook when
cargo is there, writes it into `blockpart/`), and nothing may reach back into this tree: the
example runs in an empty directory, with no cargo or rustc on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import readme_example

PACKAGE = Path(__file__).resolve().parents[1]


def test_a_fresh_venv_installs_the_package_and_runs_the_readme_example(tmp_path: Path) -> None:
    assert (PACKAGE / "blockpart" / "partitioner.wasm").is_file(), (
        "the component is in the package: "
        "cargo run --release -- component -o python/blockpart/partitioner.wasm"
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    # PATH without any directory that holds a Rust toolchain.
    path = os.pathsep.join(
        [str(venv / "bin")]
        + [
            directory
            for directory in os.environ.get("PATH", "").split(os.pathsep)
            if not any(shutil.which(tool, path=directory) for tool in ("cargo", "rustc"))
        ]
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PATH"] = path
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", PACKAGE], check=True, env=env)

    work = tmp_path / "work"
    work.mkdir()
    code, expected = readme_example()
    python = [venv / "bin" / "python", "-c"]
    where = subprocess.run(
        [*python, "import blockpart; print(blockpart.COMPONENT)"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv) and Path(where).is_file(), where
    run = subprocess.run(
        [*python, code], cwd=work, env=env, check=True, capture_output=True, text=True
    )
    assert run.stdout.splitlines() == expected
