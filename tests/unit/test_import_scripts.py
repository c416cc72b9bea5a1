"""Imports (ptrace.passes.import_scripts): scripts, directories of scripts and
standard library modules brought into a program; what ptrace cannot import
(C) and what it refuses (places anyone may write to) are located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptrace.ast import nodes as n
from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Diagnostic, Source
from ptrace.options import Options
from ptrace.parse import parse_program
from ptrace.passes.context import CompileContext
from ptrace.passes.import_scripts import import_scripts
from tests.unit.fixtures import compile_text, fixture_machine


def imported(main: Path, text: str) -> CompileContext:
    main.write_text(text)
    source = Source(str(main), text)
    ctx = CompileContext(source, Options(), fixture_machine(), parse_program(source))
    import_scripts(ctx)
    return ctx


def heads(ctx: CompileContext) -> list[str]:
    """Each item of the program: a probe's attach points, a macro's name."""
    return [",".join(p.text for p in item.attach_points) if isinstance(item, n.Probe)
            else f"macro {item.name}" if isinstance(item, n.MacroDef) else type(item).__name__
            for item in ctx.program.items]


def messages(ctx: CompileContext) -> list[tuple[str, tuple[str, ...]]]:
    return [(d.message, d.hints) for d in ctx.reporter.diagnostics]


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    """tmp_path/lib: two scripts, one of which imports the other; a file that is
    no script and a subdirectory, which a directory's import passes over."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.bt").write_text('macro twice(x) { x * 2 }\nBEGIN { printf("a\\n"); }\n')
    (tmp_path / "lib" / "b.bt").write_text('import "lib/a.bt";\nEND { printf("b\\n"); }\n')
    (tmp_path / "lib" / "notes.txt").write_text("not a script\n")
    (tmp_path / "lib" / "old").mkdir()
    (tmp_path / "lib" / "old" / "c.bt").write_text("BEGIN { }\n")
    return tmp_path / "lib"


def test_a_directory_imports_each_script_once_in_place_of_the_import(lib: Path) -> None:
    """Its .bt files in name order (b's import of a finds a already imported);
    a second import of a script is nothing; imports of imported scripts are
    looked for beside the program, as bpftrace looks for them."""
    ctx = imported(lib.parent / "main.bt", 'import "lib";\nimport "lib/b.bt";\n'
                   'interval:s:1 { @ = twice(2); }\n')
    assert messages(ctx) == []
    assert heads(ctx) == ["macro twice", "BEGIN", "END", "interval:s:1"]
    begin = ctx.program.items[1]
    assert begin.span.source.name == str(lib / "a.bt")


def test_imported_macros_and_probes_compile_with_the_program(lib: Path) -> None:
    (lib.parent / "main.bt").write_text('import "lib/a.bt";\nBEGIN { print(twice(21)); }\n')
    main = lib.parent / "main.bt"
    program = compile(Source(str(main), main.read_text()), Options(), fixture_machine())
    assert [p.attach.probe for p in program.programs] == ["BEGIN", "BEGIN"]


def test_the_standard_library_gives_bpftraces_test_module() -> None:
    """stdlib/test's __always_true() (bpftrace's own suite imports it) is an int,
    as the C function returns; imported twice, it is defined once."""
    program = compile_text('import "stdlib/test"; import "stdlib/test/"; '
                           "BEGIN { $t = __always_true(); print($t); }", dumps=("types",))
    assert "Variable name='$t' type='int32'" in program.dumps["types"]


def test_a_name_found_nowhere_is_an_error_naming_where_it_looked(tmp_path: Path) -> None:
    ctx = imported(tmp_path / "main.bt", 'import "stdlib/tset";\nBEGIN { }\n')
    assert messages(ctx) == [("cannot find 'stdlib/tset' to import",
                              (f"there is no {tmp_path / 'stdlib' / 'tset'}",
                               "the standard library's modules: stdlib/test"))]


def test_c_is_an_error_where_it_is_imported(lib: Path) -> None:
    """C sources, headers and objects (bpftrace compiles and links them), alone
    or in a directory; an import in a block (bpftrace's import of C objects)."""
    (lib / "helpers.bpf.c").write_text("int f() { return 1; }\n")
    (lib.parent / "types.h").write_text("struct s { int x; };\n")
    ctx = imported(lib.parent / "main.bt", 'import "types.h";\nimport "lib";\n'
                   'BEGIN { import "obj.bpf.o"; }\n')
    no_c = ("bpftrace compiles C with clang and links it with the program; ptrace compiles "
            "no C (kernel types come from BTF)")
    assert messages(ctx) == [
        (f"ptrace cannot import {lib.parent / 'types.h'}: it is C", (no_c,)),
        (f"ptrace cannot import {lib / 'helpers.bpf.c'}: it is C", (no_c,)),
        ("ptrace cannot import 'obj.bpf.o' in a block",
         (f"an import in a block names C (.bpf.c, .h, .bpf.o): {no_c}",
          "scripts are imported at the top of the program"))]
    assert [d.span.line for d in ctx.reporter.diagnostics if d.span] == [1, 2, 3]


def test_what_is_not_a_script_and_what_sets_config_are_errors(lib: Path) -> None:
    (lib / "settings.bt").write_text("config = { max_map_keys = 5 }\nBEGIN { }\n")
    ctx = imported(lib.parent / "main.bt", 'import "lib/notes.txt";\nimport "lib";\n')
    assert messages(ctx) == [
        (f"ptrace cannot import {lib / 'notes.txt'}: it is not a script (.bt)",
         ("an import names a .bt script, a directory of them or a module of the standard "
          "library (stdlib/test)",)),
        ("an imported script cannot set config",
         ("the settings are the importing program's: set them there",))]
    config_error = ctx.reporter.diagnostics[1]
    assert config_error.span is not None and config_error.span.source.name == str(
        lib / "settings.bt")


def test_a_place_anyone_may_write_to_is_refused(lib: Path) -> None:
    lib.chmod(0o777)
    ctx = imported(lib.parent / "main.bt", 'import "lib/a.bt";\nBEGIN { }\n')
    assert [m for m, _ in messages(ctx)] == [
        f"ptrace refuses to import {lib / 'a.bt'}: anyone may write to it or to its directory"]
    lib.chmod(0o755)
    (lib / "a.bt").chmod(0o666)
    ctx = imported(lib.parent / "main.bt", 'import "lib";\n')
    assert [(m, d.span.line if d.span else 0) for (m, _), d in
            zip(messages(ctx), ctx.reporter.diagnostics, strict=True)] == [
        (f"ptrace refuses to import {lib / 'a.bt'}: anyone may write to it or to its "
         "directory", line) for line in (1, 1)]  # (the import, and b.bt's own)


def test_an_imported_scripts_syntax_error_is_located_in_it(lib: Path) -> None:
    (lib / "a.bt").write_text("BEGIN { printf( }\n")
    ctx = imported(lib.parent / "main.bt", 'import "lib/a.bt";\nBEGIN { }\n')
    (error,) = ctx.reporter.diagnostics
    assert error.span is not None and (error.span.source.name, error.span.line) == (
        str(lib / "a.bt"), 1)


def test_a_program_is_looked_for_in_the_working_directory_and_needs_probes(
        lib: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-e's imports are found in the working directory; imports that bring no
    probe leave the program without probes."""
    (lib / "b.bt").unlink()
    (lib / "a.bt").write_text("macro twice(x) { x * 2 }\n")
    (lib.parent / "elsewhere").mkdir()
    monkeypatch.chdir(lib.parent / "elsewhere")
    with pytest.raises(CompileError) as raised:
        compile(Source("-e", 'import "lib";'), Options(), fixture_machine())
    assert [d.message for d in raised.value.diagnostics] == [
        "cannot find 'lib' to import"]
    monkeypatch.chdir(lib.parent)
    with pytest.raises(CompileError) as raised:
        compile(Source("-e", 'import "lib";'), Options(), fixture_machine())
    (no_probes,) = raised.value.diagnostics
    assert isinstance(no_probes, Diagnostic) and no_probes.message == "the script has no probes"
