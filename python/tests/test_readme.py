"""The package README's example (python/README.md, "Usage") runs, and prints what its comments
say."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from conftest import readme_example


def test_the_readme_example_prints_what_its_comments_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, expected = readme_example()
    assert len(expected) >= 4, "every print line of the example says what it prints"
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    assert output.getvalue().splitlines() == expected
    assert os.path.getsize(tmp_path / "disk.img") == 64 * 512
