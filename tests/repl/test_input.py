"""What the REPL makes of typed text: tokens and their colours, when a cell is
complete, bare statements wrapped in BEGIN, the keys of the prompt, history.

The prompt is driven through prompt_toolkit's pipe input, without a terminal.
"""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from ptrace import repl
from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source, render_all
from ptrace.options import Options
from tests.unit.fixtures import fixture_machine


@contextmanager
def prompt(history: History | None = None) -> Iterator[tuple[PipeInput, PromptSession[str]]]:
    with create_pipe_input() as pipe:
        session = repl.prompt_session(repl.Repl(Options(), machine=fixture_machine()),
                                      history or InMemoryHistory(), pipe, DummyOutput())
        yield pipe, session


def cell_after(keys: str, history: History | None = None) -> str:
    """The cell the prompt returns after these keys."""
    with prompt(history) as (pipe, session):
        pipe.send_text(keys)
        return session.prompt()


# ---- tokens and highlighting ----

def test_tokens_are_the_grammars_terminals() -> None:
    toks = repl.tokens('t:syscalls:sys_enter_openat /pid == 1/ { @[comm] = count(); }')
    assert [(t.type, t.text) for t in toks if t.type != "WS"] == [
        ("ATTACH_POINT", "t:syscalls:sys_enter_openat"), ("PREDICATE", "/pid == 1/"),
        ("LBRACE", "{"), ("MAP", "@"), ("LSQB", "["), ("NAME", "comm"), ("RSQB", "]"),
        ("EQUAL", "="), ("NAME", "count"), ("LPAR", "("), ("RPAR", ")"), ("SEMICOLON", ";"),
        ("RBRACE", "}")]


@pytest.mark.parametrize("text, last", [
    ('printf("unfinished', ("STRING", '"unfinished')),
    ("BEGIN { /* open comment\n still", ("COMMENT", "/* open comment\n still")),
    ("$x = 1 ` 2", ("INT", "2")),
])
def test_incomplete_input_still_lexes(text: str, last: tuple[str, str]) -> None:
    toks = repl.tokens(text)
    assert "".join(t.text for t in toks) == text
    assert (toks[-1].type, toks[-1].text) == last


def test_a_character_no_terminal_matches_is_an_error_token() -> None:
    assert [(t.type, t.text) for t in repl.tokens("a`b")] == [
        ("NAME", "a"), ("ERROR", "`"), ("NAME", "b")]


def test_highlighting_classes() -> None:
    (line,) = repl.highlight('BEGIN { if ($x) { @m = str(pid, 8) } } // hi')
    styled = {text: style for style, text in line if style}
    assert styled == {"BEGIN": "class:probe", "if": "class:keyword", "$x": "class:variable",
                      "@m": "class:map", "str": "class:function", "pid": "class:builtin",
                      "8": "class:number", "// hi": "class:comment"}


def test_highlighting_splits_lines_and_keeps_every_character() -> None:
    text = 'BEGIN {\n  printf("a\\n"); /* two\nlines */\n}'
    lines = repl.highlight(text)
    assert ["".join(part for _, part in line) for line in lines] == text.split("\n")
    assert ("class:comment", "lines */") in lines[2]


# ---- complete cells ----

@pytest.mark.parametrize("text, complete", [
    ('printf("%d\\n", 1 + 2)', True),
    ("BEGIN { exit(); }", True),
    ("BEGIN {", False),
    ("BEGIN { if (1) {\n}", False),
    ('printf("%d\\n",', False),
    ("tracepoint:syscalls:sys_enter_openat", False),
    ("tracepoint:syscalls:sys_enter_openat /pid == 1/", False),
    ("tracepoint:a:b,", False),
    ("BEGIN { exit(); } /* to be continued", False),
    ('BEGIN { printf("{"); }', True),
    (":list sys*{", True),
    ("", True),
])
def test_is_complete(text: str, complete: bool) -> None:
    assert repl.is_complete(text) is complete


# ---- cells: programs or bare statements ----

@pytest.mark.parametrize("text", [
    "BEGIN { exit(); }", "tracepoint:syscalls:sys_enter_openat { }", "i:s:1 { exit(); }",
    "macro one() { 1 }\nBEGIN { exit(); }", "config = { max_strlen = 8 }\nBEGIN { }",
    "let @m = hash(10);\nBEGIN { }", "// a comment first\nEND { }",
])
def test_programs_run_as_they_are(text: str) -> None:
    cell = repl.Cell.of(Source("cell1", text))
    assert not cell.is_wrapped and cell.program.text == text


@pytest.mark.parametrize("text", [
    'printf("%d\\n", 1 + 2)', "@x = 1; @y = 2;", "let $x = 1; print($x)", "$a = 3",
    "if (1) { exit(); }",
])
def test_bare_statements_run_as_a_begin_block(text: str) -> None:
    cell = repl.Cell.of(Source("cell1", text))
    assert cell.is_wrapped and cell.program.text == "BEGIN {\n" + text + "\n}"
    compile(cell.program, Options(), fixture_machine())


def errors(text: str) -> str:
    cell = repl.Cell.of(Source("cell1", text))
    with pytest.raises(CompileError) as caught:
        compile(cell.program, Options(), fixture_machine())
    return render_all(cell.diagnostics(caught.value))


def test_errors_in_bare_statements_are_shown_where_they_were_typed() -> None:
    assert errors('$x = 1;\nprintf("%d\\n", $y)') == (
        "cell1:2:16: error: undefined variable '$y'\n"
        '    printf("%d\\n", $y)\n'
        "                   ^~")


def test_errors_in_programs_are_unchanged() -> None:
    assert errors("BEGIN { @x = nope; }").startswith("cell1:1:14: error: unknown identifier")


# ---- the prompt's keys ----

def test_enter_runs_a_complete_cell() -> None:
    assert cell_after('printf("%d\\n", 1 + 2)\r') == 'printf("%d\\n", 1 + 2)'


def test_an_open_brace_continues_on_an_indented_line() -> None:
    assert cell_after("BEGIN {\rexit();\r}\r") == "BEGIN {\n    exit();\n}"


def test_alt_enter_adds_a_line_to_a_complete_cell() -> None:
    assert cell_after("@a = 1;\x1b\r@b = 2;\r") == "@a = 1;\n@b = 2;"


def test_ctrl_c_at_the_prompt_abandons_the_text() -> None:
    with prompt() as (pipe, session), pytest.raises(KeyboardInterrupt):
        pipe.send_text("BEGIN {\x03")
        session.prompt()


def test_ctrl_d_on_an_empty_line_leaves() -> None:
    with prompt() as (pipe, session), pytest.raises(EOFError):
        pipe.send_text("\x04")
        session.prompt()


def test_loop_until_quit() -> None:
    with create_pipe_input() as pipe:
        shell = repl.Repl(Options(), machine=fixture_machine())
        session = repl.prompt_session(shell, InMemoryHistory(), pipe, DummyOutput())
        pipe.send_text(":quit\r")
        assert shell.loop(session) == 0


# ---- history ----

def test_history_file_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert repl.history_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "ptrace/history"
    monkeypatch.setenv("HOME", str(tmp_path))
    default = tmp_path / ".local/state/ptrace/history"
    assert repl.history_path({}) == default
    assert repl.history_path({"XDG_STATE_HOME": "relative/path"}) == default


def test_history_is_private_and_kept_across_sessions(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ptrace" / "history"
    assert cell_after(":list sched*\r", repl.open_history(path, io.StringIO())) == ":list sched*"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ":list sched*" in path.read_text()
    # A new session finds it with Ctrl-R.
    assert cell_after("\x12list s\r\r", repl.open_history(path, io.StringIO())) == ":list sched*"


def test_an_existing_history_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "history"
    path.write_text("")
    path.chmod(0o644)
    repl.open_history(path, io.StringIO())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600



def test_without_a_history_file_the_history_is_the_sessions(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the folder should be")
    err = io.StringIO()
    history = repl.open_history(tmp_path / "state" / "ptrace" / "history", err)
    assert isinstance(history, InMemoryHistory)
    assert err.getvalue().startswith("ptrace: warning: no history across sessions: ")
