"""Tests that the wheel holds the whole program: the runtime, the grammar, the command.

runtime/ and grammar/ are mapped into the ptrace package by pyproject.toml's
package-dir; a wheel missing them installs a ptrace that cannot run. The
wheel is built with `python -m build` (from the test extra) in an isolated
environment, from a copy of the sources so that the checkout gets no build/
directory. This is the slowest unit test (a few seconds).
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "ptrace", "runtime", "grammar", "tools")
BUILD_TIMEOUT = 120


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(path, source / name)
    out = work / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = out.glob("ptrace_bt-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.parametrize(
    "path",
    [
        "ptrace/__init__.py",
        "ptrace/cli.py",
        "ptrace/compile.py",
        "ptrace/parse/parser.py",
        "ptrace/passes/check_types.py",
        "ptrace/codegen/lower.py",
        "ptrace/runtime/__init__.py",
        "ptrace/runtime/session.py",
        "ptrace/runtime/loader.py",
        "ptrace/runtime/text_output.py",
        "ptrace/grammar/__init__.py",
        "ptrace/grammar/ptrace.lark",
        "ptrace/tools/execsnoop.bt",
        "ptrace/py.typed",
        "ptrace/api.py",
    ],
)
def test_wheel_contains(wheel: zipfile.ZipFile, path: str) -> None:
    assert path in wheel.namelist()


def test_wheel_grammar_is_the_checkout_grammar(wheel: zipfile.ZipFile) -> None:
    checkout = (ROOT / "grammar" / "ptrace.lark").read_bytes()
    assert wheel.read("ptrace/grammar/ptrace.lark") == checkout


def test_wheel_has_no_top_level_runtime_or_grammar(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {"runtime", "grammar", "tools", "tests"}.isdisjoint(tops)


def test_wheel_declares_the_console_script(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode())
    assert dict(parser["console_scripts"]) == {"ptrace": "ptrace.launch:entry"}


def test_wheel_metadata_names_the_distribution_and_its_license(wheel: zipfile.ZipFile) -> None:
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    fields = wheel.read(metadata).decode().split("\n\n")[0].splitlines()
    assert "Name: ptrace-bt" in fields
    assert "License-Expression: Apache-2.0" in fields
    assert "License-File: LICENSE" in fields
    (license_file,) = [n for n in wheel.namelist() if n.endswith("/LICENSE")]
    assert wheel.read(license_file) == (ROOT / "LICENSE").read_bytes()


def test_setup_puts_the_command_on_path(tmp_path: Path) -> None:
    """After scripts/setup, `ptrace` runs bare: setup links it into BINDIR (on PATH)."""
    bindir = tmp_path / "bin"
    result = subprocess.run([str(ROOT / "scripts" / "setup")], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "BINDIR": str(bindir)},
                            timeout=BUILD_TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr
    link = bindir / "ptrace"
    assert link.resolve() == (ROOT / ".venv" / "bin" / "ptrace").resolve()
    version = subprocess.run(["ptrace", "-V"], capture_output=True, text=True, check=True,
                             env={"PATH": f"{bindir}:/usr/bin:/bin"})
    assert version.stdout.startswith("ptrace v")
    (bindir / "ptrace").unlink()
    (bindir / "ptrace").write_text("another ptrace\n")
    again = subprocess.run([str(ROOT / "scripts" / "setup")], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "BINDIR": str(bindir)},
                           timeout=BUILD_TIMEOUT, check=False)
    assert (again.returncode, (bindir / "ptrace").read_text()) == (0, "another ptrace\n")
    assert "is not a link made by setup; left alone" in again.stderr


def test_the_launcher_finds_every_package_pyproject_places() -> None:
    """The `ptrace` launcher scripts/setup writes finds the packages of
    pyproject.toml's package-dir in this tree, each from its directory there
    (it reads their names from pyproject.toml, not a list of its own)."""
    import tomllib

    launcher = ROOT / ".venv" / "bin" / "ptrace"
    if not launcher.exists():
        pytest.skip("scripts/setup has not been run")
    with open(ROOT / "pyproject.toml", "rb") as f:
        dirs = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    finder = launcher.read_text().split("from ptrace.launch import entry")[0]
    code = finder + "".join(f"import {name}; print({name}.__file__)\n" for name in dirs)
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-S", "-c", code],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(ROOT / directory / "__init__.py") for directory in dirs.values()]
