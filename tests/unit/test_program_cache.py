"""The compile cache: a hit gives the program without compiling; every changed
fact the compile read (option, kernel, binary, PATH, a /sys file) is a miss;
a damaged, foreign or unwritable cache is ignored."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ptrace.compile
from ptrace import program_cache
from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source
from ptrace.options import Options
from ptrace.program import CompiledProgram

BEGIN = Source("-e", 'BEGIN { printf("hi\\n"); exit(); }')


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(program_cache.DISABLE_VARIABLE, raising=False)
    return tmp_path / "xdg" / "ptrace" / "programs"


class Compiled:
    """The sources compiled (not found in the cache) while a test runs, in this
    process or in the child a miss compiles in: a file both add a line to."""

    def __init__(self, path: Path):
        self.path = path

    def sources(self) -> list[str]:
        text = self.path.read_text() if self.path.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def __eq__(self, other: object) -> bool:
        return self.sources() == other

    def __len__(self) -> int:
        return len(self.sources())


@pytest.fixture
def compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Compiled:
    done = Compiled(tmp_path / "compiled")
    real: Callable[..., CompiledProgram] = ptrace.compile._compile

    def counted(source: Source, *args: Any) -> CompiledProgram:
        with done.path.open("a") as f:
            f.write(json.dumps(source.text) + "\n")
        return real(source, *args)

    monkeypatch.setattr(ptrace.compile, "_compile", counted)
    return done


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.iterdir()) if cache.is_dir() else []


def test_a_second_compile_is_a_hit(cache: Path, compiles: Compiled) -> None:
    first = compile(BEGIN)
    second = compile(BEGIN)
    assert compiles == [BEGIN.text]
    assert second == first
    assert len(_entries(cache)) == 1


def test_neither_a_miss_nor_a_hit_imports_lark_or_llvmlite_here(cache: Path) -> None:
    """A miss compiles (and records what it read, through an audit hook, which
    cannot be removed) in a forked child: this process gets the program as from
    a hit, without the compiler's libraries or the hook."""
    code = ("import sys; from ptrace.compile import compile; from ptrace.diagnostics import "
            f"Source; from ptrace import program_cache; p = compile(Source('-e', {BEGIN.text!r}));"
            " print(len(p.programs), 'lark' in sys.modules, 'llvmlite' in sys.modules, "
            "program_cache._Recorder.hooked, len(list(program_cache.cache_file('programs')"
            ".iterdir())))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env=os.environ.copy()).stdout for _ in range(2)]
    assert runs == ["1 False False False 1\n"] * 2


def test_a_miss_gives_the_compile_errors(cache: Path, compiles: Compiled) -> None:
    for _ in range(2):
        with pytest.raises(CompileError) as error:
            compile(Source("-e", "BEGIN { x = ; }"))
        assert [d.message for d in error.value.diagnostics] == [
            "unexpected ';', expected an expression"]
    assert len(compiles) == 2 and not _entries(cache)


def test_a_child_that_fails_leaves_the_compile_to_this_process(
        cache: Path, compiles: Compiled, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*args: Any) -> bytes:
        raise RuntimeError("a bug in the child")

    monkeypatch.setattr(program_cache, "_recorded_compile", fails)
    assert len(compile(BEGIN).programs) == 1
    assert compiles == [BEGIN.text] and not _entries(cache)


def test_the_import_systems_listings_are_not_facts(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory on sys.path (the working directory for `python -m`, /tmp
    there, which changes all the time) is listed to import modules, not read
    by the compiler; another directory listed is a fact."""
    monkeypatch.syspath_prepend(str(tmp_path / "imports"))
    recorder = program_cache._Recorder()
    recorder.note_path("listing", str(tmp_path / "imports"))
    recorder.note_path("listing", str(tmp_path / "data"))
    assert recorder.facts == [("listing", str(tmp_path / "data"), "-")]


def test_a_changed_option_source_or_kernel_is_a_miss(cache: Path, compiles: Compiled,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    compile(BEGIN)
    compile(BEGIN, Options(max_strlen=64))
    compile(Source("-e", BEGIN.text + " "))
    compile(Source("other.bt", BEGIN.text))  # locations name the file
    uname = os.uname()
    monkeypatch.setattr(program_cache.os, "uname",
                        lambda: os.uname_result((*uname[:2], uname.release + "-new", *uname[3:])))
    compile(BEGIN)
    assert len(compiles) == 5
    monkeypatch.undo()
    assert len(_entries(cache)) == 5


def _build(directory: Path, padding: int) -> Path:
    """A binary with `padding` functions pad0, pad1, …"""
    source = directory / f"prog{padding}.c"
    source.write_text("".join(f"int pad{i}(int x) {{ return x * {i + 3}; }}\n"
                              for i in range(padding))
                      + "int target(int x) { return x + 1; }\n"
                        "int main(int argc, char **argv) { return target(argc); }\n")
    binary = directory / f"prog{padding}"
    subprocess.run(["gcc", "-O0", "-o", str(binary), str(source)], check=True)
    return binary


def _symbols(program: CompiledProgram) -> list[str]:
    """The functions the uprobes attach to (of one uprobe_multi program or of several)."""
    return sorted(name.rpartition(":")[2] for p in program.programs
                  for name in p.attach.probe_names)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_a_changed_binary_or_path_is_a_miss(tmp_path: Path, cache: Path, compiles: Compiled,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = _build(tmp_path, 1), _build(tmp_path, 3)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(small, bin_dir / "prog")
    source = Source("-e", "uprobe:prog:pad* { @n = count(); }")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    for prefix in ("prefix", "base_prefix", "exec_prefix"):  # as a system Python's /usr
        monkeypatch.setattr(sys, prefix, str(tmp_path))
    before = compile(source)
    assert compile(source) == before and len(compiles) == 1
    assert _symbols(before) == ["pad0"]
    shutil.copy(large, bin_dir / "prog")  # rebuilt in place, with more functions
    assert _symbols(compile(source)) == ["pad0", "pad1", "pad2"]
    assert len(compiles) == 2
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    shutil.copy(small, other_dir / "prog")
    monkeypatch.setenv("PATH", f"{other_dir}:{os.environ['PATH']}")  # another `prog` first
    assert _symbols(compile(source)) == ["pad0"]
    assert len(compiles) == 3


def test_a_changed_kernel_file_is_a_miss(cache: Path, compiles: Compiled) -> None:
    """A tracepoint's format is known by its contents: an entry whose recorded
    contents differ (as after the kernel changed) is compiled again."""
    if not Path("/sys/kernel/tracing/events/syscalls/sys_enter_openat/format").exists():
        pytest.skip("needs tracefs")
    source = Source("-e", "tracepoint:syscalls:sys_enter_openat { @[args.filename] = count(); }")
    compile(source)
    (entry,) = _entries(cache)
    version, facts, program = pickle.loads(entry.read_bytes())
    assert any(kind == "file" and what.endswith("sys_enter_openat/format")
               for kind, what, _ in facts)
    changed = tuple((kind, what, "0" * 40 if what.endswith("/format") else was)
                    for kind, what, was in facts)
    entry.write_bytes(pickle.dumps((version, changed, program)))
    compile(source)
    compile(source)
    assert len(compiles) == 2


def test_a_damaged_entry_is_compiled_again(cache: Path, compiles: Compiled) -> None:
    program = compile(BEGIN)
    (entry,) = _entries(cache)
    for damage in (b"", b"not a pickle", entry.read_bytes()[:40],
                   pickle.dumps(("another layout", (), None)), pickle.dumps((1, (("x",),), 2))):
        entry.write_bytes(damage)
        assert compile(BEGIN) == program
    assert len(compiles) == 6
    compile(BEGIN)
    assert len(compiles) == 6  # the last compile replaced the entry


def test_an_entry_others_may_write_is_not_loaded(cache: Path, compiles: Compiled) -> None:
    """Entries are pickles: one another user owns or may change is ignored."""
    compile(BEGIN)
    (entry,) = _entries(cache)
    entry.chmod(0o666)
    compile(BEGIN)
    entry.chmod(0o644)
    cache.chmod(0o777)
    compile(BEGIN)
    cache.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(entry, 65534, 65534)
        compile(BEGIN)
        assert len(compiles) == 4
    else:
        assert len(compiles) == 3


def test_entries_are_private_whatever_the_umask(cache: Path, compiles: Compiled) -> None:
    umask = os.umask(0o002)
    try:
        compile(BEGIN)
        compile(BEGIN)
    finally:
        os.umask(umask)
    assert len(compiles) == 1
    (entry,) = _entries(cache)
    assert (entry.stat().st_mode & 0o777, cache.stat().st_mode & 0o777) == (0o600, 0o700)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the directory away")
def test_nothing_is_kept_in_a_directory_of_another_user(cache: Path,
                                                        compiles: Compiled) -> None:
    """As root with another user's HOME (sudo -E): that user's cache is not used."""
    cache.mkdir(parents=True)
    os.chown(cache, 65534, 65534)
    compile(BEGIN)
    compile(BEGIN)
    assert len(compiles) == 2 and not _entries(cache)


def test_an_unusable_cache_is_ignored(tmp_path: Path, compiles: Compiled,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # not a directory
    assert compile(BEGIN) == compile(BEGIN)
    assert len(compiles) == 2


def test_turned_off_it_keeps_nothing(cache: Path, compiles: Compiled,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(program_cache.DISABLE_VARIABLE, "1")
    compile(BEGIN)
    compile(BEGIN)
    assert len(compiles) == 2 and not _entries(cache)


def test_errors_and_dumps_are_not_kept(cache: Path, compiles: Compiled) -> None:
    with pytest.raises(CompileError):
        compile(Source("-e", "BEGIN { @x = ; }"))
    compile(BEGIN, dumps=("ir",))
    assert not _entries(cache)


def test_a_large_kernel_list_is_not_cached(cache: Path) -> None:
    """kaddr() reads /proc/kallsyms: a run cannot check it cheaply."""
    if not os.access("/proc/kallsyms", os.R_OK):
        pytest.skip("needs /proc/kallsyms")
    compile(Source("-e", 'BEGIN { printf("%x\\n", kaddr("_stext")); exit(); }'))
    assert not _entries(cache)


def test_the_oldest_entries_go_first(tmp_path: Path) -> None:
    for age, name in enumerate("abcd"):
        (tmp_path / name).write_bytes(b"x" * 100)
        os.utime(tmp_path / name, ns=(age * 10**9, age * 10**9))
    program_cache._bound(tmp_path, limit=250)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "d"]


def test_code_changed_since_the_import_neither_uses_nor_fills_the_cache(
        cache: Path, compiles: Compiled, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process whose modules may be older than its files (ptrace upgraded or
    edited while it ran) compiles with what it has and keeps nothing: an entry
    it made would be found by the new files' key."""
    compile(BEGIN)
    monkeypatch.setattr(program_cache, "IMPORTED_NS", 0)  # every file is newer
    compile(BEGIN)
    compile(Source("-e", "BEGIN { exit(); }"))
    assert compiles == [BEGIN.text, BEGIN.text, "BEGIN { exit(); }"]
    assert len(_entries(cache)) == 1


def test_code_changed_during_the_compile_keeps_nothing(
        cache: Path, compiles: Compiled, monkeypatch: pytest.MonkeyPatch) -> None:
    stamps = iter([["ptrace/a.py:10:1"], ["ptrace/a.py:11:2"]])
    monkeypatch.setattr(program_cache, "_code_stamps", lambda: next(stamps))
    compile(BEGIN)
    assert compiles == [BEGIN.text]
    assert _entries(cache) == []


def test_an_imported_script_and_where_an_import_was_looked_for_are_facts(
        cache: Path, compiles: Compiled, tmp_path: Path) -> None:
    """A changed imported script is a miss, and so is a file that appears where an
    import was looked for before the standard library served it (its directory
    was listed, not stat'ed)."""
    scripts = tmp_path / "scripts"  # (the cache and the compile count are in tmp_path)
    scripts.mkdir()
    (scripts / "lib.bt").write_text('BEGIN { printf("lib\\n"); }\n')
    main = Source(str(scripts / "main.bt"),
                  'import "lib.bt"; import "stdlib/test"; BEGIN { exit(); }')
    compile(main)
    compile(main)
    assert len(compiles) == 1
    (scripts / "lib.bt").write_text('BEGIN { printf("changed\\n"); }\n')
    compile(main)
    assert len(compiles) == 2
    (scripts / "stdlib").mkdir()
    compile(main)
    assert len(compiles) == 3
