"""The REPL's cells and `:commands`, called as the prompt calls them (Repl.handle).

Cells that load BPF are marked `bpf`; the commands that only compile run
anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ptrace import repl
from ptrace.diagnostics import Source
from ptrace.options import Options
from tests.unit.fixtures import fixture_machine


@pytest.fixture
def shell(capsys: pytest.CaptureFixture[str]) -> repl.Repl:
    """A REPL writing to the captured stdout and stderr."""
    return repl.Repl(Options(), machine=fixture_machine())


def run(shell: repl.Repl, capsys: pytest.CaptureFixture[str], *lines: str) -> tuple[str, str]:
    """Out and err after handling these lines, as if typed one after the other."""
    for line in lines:
        assert shell.handle(line)
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_help_lists_every_command(shell: repl.Repl, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(shell, capsys, ":help")
    for name in (":list", ":ast", ":ir", ":asm", ":load", ":set", ":maps", ":quit"):
        assert f"  {name} " in out


def test_list_matches_a_glob(shell: repl.Repl, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(shell, capsys, ":list syscalls:sys_enter_open*")
    assert out == "tracepoint:syscalls:sys_enter_openat\n"
    out, _ = run(shell, capsys, ":list tracepoint:*openat")
    assert out == "tracepoint:syscalls:sys_enter_openat\ntracepoint:syscalls:sys_exit_openat\n"
    out, _ = run(shell, capsys, ":list nothing:here")
    assert out == "no tracepoint matches nothing:here\n"


def test_set_changes_the_options_of_later_cells(shell: repl.Repl,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _, err = run(shell, capsys, ":set max_strlen 64", ":set format json",
                 ":set print_maps_on_exit false")
    assert err == ""
    assert (shell.options.max_strlen, shell.format) == (64, "json")
    assert shell.options.print_maps_on_exit is False
    out, _ = run(shell, capsys, ":set")
    assert "max_strlen = 64\n" in out and out.endswith("format = json\n")
    assert "print_maps_on_exit = false\n" in out  # as the user writes it, not Python's False


@pytest.mark.parametrize("line, error", [
    (":set max_strlen 0", "max_strlen must be a positive whole number, not '0'"),
    (":set format yaml", "format must be text or json"),
    (":set colour blue", "unknown setting 'colour'"),
])
def test_set_refuses_bad_values(shell: repl.Repl, capsys: pytest.CaptureFixture[str],
                                line: str, error: str) -> None:
    _, err = run(shell, capsys, line)
    assert f"ptrace: error: {error}" in err
    assert shell.options == Options() and shell.format == "text"


@pytest.mark.parametrize("stage, expected", [
    ("ast", "AttachPoint text='BEGIN'"),
    ("ir", 'section "'),
    ("ir-opt", 'section "'),
    ("asm", "exit"),
])
def test_dumps_of_the_last_cell(shell: repl.Repl, capsys: pytest.CaptureFixture[str],
                                stage: str, expected: str) -> None:
    shell.last = repl.Cell.of(Source("cell1", 'printf("%d\\n", 1 + 2)'))
    out, err = run(shell, capsys, f":{stage}")
    assert err == "" and expected in out



def test_types_of_the_last_cell(shell: repl.Repl, capsys: pytest.CaptureFixture[str]) -> None:
    shell.last = repl.Cell.of(Source("cell1", "$x = 1 + 2"))
    out, err = run(shell, capsys, ":types")
    assert err == "" and "Variable name='$x' type='int64'" in out


def test_types_are_shown_when_checking_fails(shell: repl.Repl,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    shell.last = repl.Cell.of(Source("cell1", "$x = 1; $x = \"a\""))
    out, err = run(shell, capsys, ":types")
    assert "Variable name='$x' type='uint8'" in out
    assert err.startswith("cell1:1:14: error: '$x' holds uint8; cannot assign string[2]\n")

def test_dumps_before_any_cell(shell: repl.Repl, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(shell, capsys, ":ir") == ("", "ptrace: error: no cell yet\n")


def test_errors_keep_the_repl_up(shell: repl.Repl, capsys: pytest.CaptureFixture[str]) -> None:
    _, err = run(shell, capsys, "BEGIN { @x = nope; }", ":nope", ":load /does/not/exist.bt")
    assert err == ("cell1:1:14: error: unknown identifier 'nope'\n"
                   "    BEGIN { @x = nope; }\n"
                   "                 ^~~~\n"
                   "ptrace: error: unknown command ':nope' (:help lists them)\n"
                   "ptrace: error: cannot read /does/not/exist.bt: No such file or directory\n")


def test_quit(shell: repl.Repl) -> None:
    assert shell.handle(":quit") is False


def test_maps_before_any_run(shell: repl.Repl, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(shell, capsys, ":maps") == ("the last cell printed no maps\n", "")


def test_cells_remember_their_names(shell: repl.Repl, capsys: pytest.CaptureFixture[str]) -> None:
    run(shell, capsys, "BEGIN { @opens = 1; $fd = nope; }")
    assert shell.names == {"@opens", "$fd"}


# ---- cells that run ----

@pytest.mark.bpf
def test_a_bare_statement_runs_and_ends(shell: repl.Repl,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(shell, capsys, 'printf("%d\\n", 1 + 2)') == ("3\n", "")


@pytest.mark.bpf
def test_maps_are_kept_for_the_maps_command(shell: repl.Repl,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(shell, capsys, "@x = 5; @y[1] = 2;")
    assert out == "\n\n@x: 5\n@y[1]: 2\n"
    assert run(shell, capsys, ":maps") == ("@x: 5\n@y[1]: 2\n", "")
    out, _ = run(shell, capsys, ":set format json", ":maps")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"type": "map", "data": {"@x": 5}}, {"type": "map", "data": {"@y": {"1": 2}}}]
    run(shell, capsys, 'printf("no maps\\n")')
    assert run(shell, capsys, ":maps") == ("the last cell printed no maps\n", "")


@pytest.mark.bpf
def test_load_runs_a_file_as_a_cell(shell: repl.Repl, capsys: pytest.CaptureFixture[str],
                                    tmp_path: Path) -> None:
    script = tmp_path / "hello.bt"
    script.write_text('BEGIN { printf("hello\\n"); exit(); }\n')
    out, err = run(shell, capsys, f":load {script}")
    assert (out, err) == ("hello\n", "Attached 1 probe\n")  # a whole program, as with -e
    out, _ = run(shell, capsys, ":ast")
    assert "String value='hello\\n'" in out
