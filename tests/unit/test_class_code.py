"""The dataclass methods' code kept between runs (ptrace/class_code.py): the
classes made from the table are the classes `dataclasses` makes, and a table
that is another Python's, damaged, or writable by others is not used."""

from __future__ import annotations

import dataclasses
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ptrace import class_code


def make_point() -> type:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: int = 2

    return Point


def check_point(point_class: type) -> None:
    p = point_class(1)
    assert (p.x, p.y) == (1, 2) and p == point_class(1, 2) and p != point_class(1, 3)
    assert hash(p) == hash(point_class(1, 2)) and repr(p).endswith("Point(x=1, y=2)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 5


def test_classes_made_from_the_table_are_the_same_and_compile_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "class-code"
    first = class_code._Table(path)
    monkeypatch.setattr(dataclasses, "exec", first.exec, raising=False)
    check_point(make_point())
    assert first.grown and first.code
    first.write()
    assert path.stat().st_mode & 0o777 == 0o600

    second = class_code._Table(path)
    assert second.code.keys() == first.code.keys()
    monkeypatch.setattr(dataclasses, "exec", second.exec, raising=False)
    compiled: list[str] = []
    monkeypatch.setattr(class_code, "compile", lambda *a: compiled.append(a[0]), raising=False)
    check_point(make_point())
    assert not compiled and not second.grown


def test_a_table_of_another_python_damaged_or_writable_by_others_is_not_used(
        tmp_path: Path) -> None:
    path = tmp_path / "class-code"
    code = {"x = 1": compile("x = 1", "<string>", "exec")}
    path.write_bytes(marshal.dumps((sys.version, code)))
    os.chmod(path, 0o600)
    assert class_code._Table(path).code.keys() == {"x = 1"}
    os.chmod(path, 0o622)
    assert class_code._Table(path).code == {}
    os.chmod(path, 0o600)
    os.chmod(tmp_path, 0o777)
    assert class_code._Table(path).code == {}
    os.chmod(tmp_path, 0o700)
    path.write_bytes(marshal.dumps(("2.7.18", code)))
    assert class_code._Table(path).code == {}
    path.write_bytes(b"\x00garbage")
    assert class_code._Table(path).code == {}
    assert class_code._Table(tmp_path / "missing").code == {}


def test_a_deferred_module_is_imported_when_first_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    deferred = class_code._Deferred("colorsys")
    monkeypatch.setitem(sys.modules, "colorsys", deferred)
    import colorsys

    assert colorsys is deferred and "rgb_to_hsv" not in deferred.__dict__
    assert colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert sys.modules["colorsys"] is not deferred
    assert sys.modules["colorsys"].rgb_to_hsv is deferred.rgb_to_hsv


def test_a_start_from_the_compile_cache_does_not_import_inspect(tmp_path: Path) -> None:
    """The modules a run from the cache imports make their dataclasses without
    `inspect` (each class has a docstring: else dataclasses describes it with
    inspect.signature)."""
    code = ("import sys; from ptrace import class_code; class_code.use(); "
            "import ptrace.cli, ptrace.program, ptrace.live, ptrace.runtime.features, "
            "ptrace.runtime.session, ptrace.program_cache; "
            "print(sorted(m for m in ('inspect', 'ast', 'dis') "
            "if type(sys.modules.get(m)).__name__ == 'module'))")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True)
    assert done.stdout == "[]\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory away")
def test_no_table_is_written_in_a_directory_of_another_user(tmp_path: Path) -> None:
    """As root with another user's HOME (sudo -E): nothing of root's goes there."""
    directory = tmp_path / "theirs"
    directory.mkdir()
    os.chown(directory, 65534, 65534)
    table = class_code._Table(directory / "class-code")
    table.exec("x = 1", {}, {})
    assert table.grown
    table.write()
    assert list(directory.iterdir()) == []
