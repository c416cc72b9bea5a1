"""The interactive REPL: `ptrace` with no program on a terminal, or `ptrace -i`.

A cell is a program (probes, config, macros, …) or bare statements, which run
as a `BEGIN` block. Cells are compiled as the CLI's and the library's
programs are (`ptrace.script`, a script's errors raised as ScriptError) and
run by the same `Session`, and what else the REPL shares with the CLI
lives elsewhere: a cell's tokens come from `ptrace.parse`, `:list` is the
CLI's listing, the root check is the runtime's (`features.root_problem`),
the output is set up as the CLI's (`cli.standard_output`, `new_output`), and
struct members are followed by the BTF reader (`Btf.follow`). This module adds
only the prompt around them: highlighting, completion, continuation, history,
and `:commands`. At the prompt, a cell with probes runs in a worker thread and
prints above the prompt, which stays up (see `_RunningCell`).

`main(args)` is the entry point the CLI calls. Start-up stays fast: the
compiler's back end (llvmlite) and the runtime are imported when the first
cell runs, the lexer when the first key is typed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application, run_in_terminal
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition, is_searching
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.output import Output as TerminalOutput
from prompt_toolkit.styles import Style

from ptrace.cli import read_stdin, standard_output
from ptrace.cli_probes import list_probes
from ptrace.compile import DUMP_STAGES
from ptrace.diagnostics import CompileError, Diagnostic, Source, Span, render_all
from ptrace.machine import LiveMachine, Machine, match_tracepoints
from ptrace.options import (
    SETTINGS,
    Options,
    SettingError,
    apply_setting,
    from_environment,
    setting_text,
)
from ptrace.parse import Token, keywords, parse, tokens
from ptrace.probe_kinds import BY_PROVIDER, KINDS, Catalogue, ProbeKind
from ptrace.program import CompiledProgram
from ptrace.script import ScriptError, compile_program
from ptrace.types.builtins import FUNCTIONS, VARIABLES

if TYPE_CHECKING:
    from ptrace.runtime.output import Output
    from ptrace.runtime.session import RunOptions, Session

PROMPT = "ptrace> "
RUNNING_PROMPT = "ptrace (running; Ctrl-C stops it)> "
BUSY = "ptrace: a cell is running; Ctrl-C stops it, then Enter runs this one\n"
COMMANDS = {  # name → (arguments, what it does): for :help and completion
    ":help": ("", "this text"),
    ":list": ("[PATTERN]", "tracepoints matching a glob, e.g. :list syscalls:*open*"),
    ":ast": ("", "the syntax tree of the last cell"),
    ":types": ("", "its tree after checking: types, maps, variables"),
    ":ir": ("", "its LLVM IR"),
    ":ir-opt": ("", "its LLVM IR after optimisation"),
    ":asm": ("", "its BPF assembly"),
    ":load": ("FILE", "run a file as a cell"),
    ":set": ("[KEY VALUE]", "show the settings, or change one (:set format json)"),
    ":maps": ("", "the maps the last cell printed when it ended"),
    ":quit": ("", "leave (or Ctrl-D on an empty line)"),
}
HELP = """\
A cell is a program (probes) or bare statements, which run as a BEGIN block.
Enter runs a complete cell; an open bracket continues it; Alt-Enter adds a line.
A cell with probes prints above the prompt while it runs; Ctrl-C stops it (END
runs, maps print). Tab completes, Ctrl-R searches the history, Ctrl-D on an
empty line leaves (stopping a running cell first).
"""
# What completion shows beside a builtin: its doc line (a function's, for kstack).
BUILTIN_DOCS = {name: row.doc for table in (VARIABLES, FUNCTIONS) for name, row in table.items()}
# How each kind's attach points start.
PROVIDERS = tuple(row.provider if kind in (ProbeKind.BEGIN, ProbeKind.END) else f"{row.provider}:"
                  for kind, row in KINDS.items() if row.provider)


# ---- a cell's tokens (from ptrace.parse): nesting, probe headers, completeness ----

_NESTING = {"LBRACE": 1, "LPAR": 1, "LSQB": 1, "RBRACE": -1, "RPAR": -1, "RSQB": -1}


def _depth(toks: Iterable[Token]) -> int:
    return sum(_NESTING.get(t.type, 0) for t in toks)


def _probe_header(toks: list[Token]) -> list[Token]:
    """The top-level tokens after the last probe's closing brace: the attach points
    and the predicate of the probe being written."""
    header: list[Token] = []
    depth = 0
    for token in toks:
        if depth == 0:
            header.append(token)
        depth = max(depth + _NESTING.get(token.type, 0), 0)
        if depth == 0 and token.type == "RBRACE":
            header = []
    return header


def _significant(toks: Iterable[Token]) -> list[Token]:
    return [t for t in toks if t.type not in ("WS", "COMMENT")]


def is_complete(text: str) -> bool:
    """Whether Enter runs the cell: a command, or nothing left open.

    Open are brackets, a `/* comment`, and a probe without its block yet.
    """
    if text.lstrip().startswith(":"):
        return True
    toks = tokens(text)
    if toks and toks[-1].type == "COMMENT" and toks[-1].text.startswith("/*") and (
            len(toks[-1].text) < 4 or not toks[-1].text.endswith("*/")):
        return False
    header = _significant(_probe_header(toks))
    return _depth(toks) <= 0 and not (header and header[0].type == "ATTACH_POINT")


def names_in(text: str) -> set[str]:
    """The maps and variables a text uses, for completion."""
    return {t.text for t in tokens(text) if t.type in ("MAP", "VAR") and t.text != "@"}


# ---- cells ----------------------------------------------------------------------------

_PROGRAM_STARTS = frozenset({"ATTACH_POINT", "PREPROC", "MACRO", "CONFIG", "STRUCT", "UNION",
                             "ENUM", "TYPEDEF"})


def starts_program(significant: list[Token]) -> bool:
    """Whether a cell starting with these tokens is a program (an attach point, `macro`,
    `let @m = …`, …) rather than bare statements."""
    first = significant[:2]
    return bool(first) and (first[0].type in _PROGRAM_STARTS
                            or [t.type for t in first] == ["LET", "MAP"])


@dataclass(frozen=True, slots=True)
class Cell:
    """What the user typed, and the program it runs as."""

    typed: Source
    program: Source  # `typed` itself, or its bare statements inside `BEGIN {` … `}`

    @staticmethod
    def of(typed: Source) -> Cell:
        significant = _significant(tokens(typed.text))
        if not significant or starts_program(significant):
            return Cell(typed, typed)
        # On lines of their own, so that line L of the program is line L - 1 typed.
        return Cell(typed, Source(typed.name, "BEGIN {\n" + typed.text + "\n}"))

    @property
    def is_wrapped(self) -> bool:
        return self.program is not self.typed

    def diagnostics(self, error: CompileError | ScriptError) -> list[Diagnostic]:
        """The errors placed in the text as typed (the wrapper's lines are not shown)."""
        return [replace(d, span=self._typed_span(d.span)) for d in error.diagnostics]

    def _typed_span(self, span: Span | None) -> Span | None:
        if span is None or not self.is_wrapped or span.source is not self.program:
            return span
        last = self.typed.text.count("\n") + 1

        def place(line: int, col: int) -> tuple[int, int]:
            if line < 2:  # `BEGIN {`
                return 1, 1
            if line > last + 1:  # the closing brace: errors at the end of the input
                return last, len(self.typed.line(last)) + 1
            return line - 1, col

        return Span(self.typed, *place(span.line, span.col), *place(span.end_line, span.end_col),
                    self._typed_span(span.expanded_from))


# ---- completion -----------------------------------------------------------------------

def _tracepoint_parts(head: str, machine: Machine) -> list[str]:
    """After `tracepoint:`: categories; after `tracepoint:CATEGORY:`: its events."""
    if not head:
        return sorted({f"{c}:" for c, _ in machine.tracepoints()})
    return sorted(e for c, e in machine.tracepoints() if c == head)


def _timer_units(head: str, machine: Machine) -> list[str]:
    return [] if head else ["hz:", "s:", "ms:", "us:"]


def _binary_paths(written: str) -> list[str]:
    """After `uprobe:`: the directories ("…/") and files ("…:") under the path being
    written. Only paths are offered: a program on PATH or a library by name
    (`uprobe:libc:`) is also accepted, but the whole PATH is too much to offer."""
    if "/" not in written:
        return []
    directory = written[:written.rindex("/") + 1]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return []
    found = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        found.append(f"{directory}{entry.name}{'/' if is_dir else ':'}")
    return found


def _uprobe_parts(head: str, machine: Machine) -> list[str]:
    """After `uprobe:`: paths; after `uprobe:BINARY:`: the binary's functions."""
    if not head:
        return []  # the last part is a path: _attach_point_words offers those
    path = machine.resolve_binary(head)
    symbols = machine.function_symbols(path) if path else None  # cached by LiveMachine
    return sorted({s.name for s in symbols or ()})


# What follows `provider:` in an attach point, by where the kind's probes come
# from: given the parts already written between the first and the last colon,
# the candidates for the last part.
ATTACH_POINT_PARTS: dict[Catalogue, Callable[[str, Machine], list[str]]] = {
    Catalogue.TRACEPOINTS: _tracepoint_parts,
    Catalogue.TIMERS: _timer_units,
    Catalogue.BINARY_FUNCTIONS: _uprobe_parts,
}


def _members(chain: list[str], probe_points: list[str], machine: Machine,
             before: str = "") -> list[str]:
    """Names after `a.b->…->`: the fields of `args` of the probe being written
    (`chain` is ["args"]), or the members of a kernel struct reached from
    `curtask` through BTF (`curtask->mm->`), or from a variable the cell set to
    a cast pointer (`$t = (struct file *)arg0; $t->`; `chain[0]` is "$t")."""
    if chain == ["args"]:
        return _args_fields(probe_points, machine)
    if chain[0] == "curtask":
        return _btf_members(chain[1:], machine)
    if chain[0].startswith("$"):
        sources = re.findall(rf"\{chain[0]}\s*=\s*(?:\(\s*(struct|union)\s+(\w+)\s*\*\s*\)"
                             r"|(curtask)\b)", before)
        if sources:
            kind, name, task = sources[-1]
            root = ("task_struct", "struct") if task else (name, kind)
            return _btf_members(chain[1:], machine, root)
    return []


def _args_fields(probe_points: list[str], machine: Machine) -> list[str]:
    fields: set[str] = set()
    for point in probe_points:
        provider, _, rest = point.partition(":")
        if BY_PROVIDER.get(provider) != ProbeKind.TRACEPOINT:
            continue
        category, _, event = rest.partition(":")
        formats = (machine.tracepoint_format(c, e)
                   for c, e in match_tracepoints(machine, category, event))
        fields.update(f.name for fmt in formats if fmt for f in fmt.fields)
    return sorted(fields)


def _btf_members(path: list[str], machine: Machine,
                 root: tuple[str, str] = ("task_struct", "struct")) -> list[str]:
    """The member names of the `root` struct (name, "struct" or "union"), followed
    through the members in `path` (completion does not insist on `.` versus `->`)."""
    from ptrace.types.btf import BtfError

    btf = machine.btf()
    root_id = btf.find(*root) if btf else None
    if btf is None or root_id is None:
        return []
    try:
        type_id = btf.follow(root_id, path)
        return sorted({m.name for m in btf.members(type_id)}) if type_id is not None else []
    except BtfError:
        return []


def _tail(pattern: str, text: str) -> str:
    """The end of `text` that `pattern` matches ("" if none)."""
    match = re.search(f"(?:{pattern})$", text)
    return match[0] if match else ""


# A member being typed: `args.fi`, `curtask->mm->`.
_MEMBER = re.compile(r"((?:\$?\w+\s*(?:\.|->)\s*)+)(\w*)$")


def complete(before: str, machine: Machine, names: Iterable[str]) -> tuple[str, list[str]]:
    """The word being typed at the end of `before` (the cell up to the cursor), and
    what can replace it: commands, attach points, `args` fields, maps and variables
    (`names`), builtins and functions."""
    if re.fullmatch(r"\s*:[\w-]*", before):
        word = before.strip()
        return word, [c for c in COMMANDS if c.startswith(word)]
    toks = tokens(before)
    if toks and toks[-1].type in ("STRING", "COMMENT", "PREPROC"):
        return "", []
    header = _probe_header(toks)
    in_predicate = sum(t.type == "SLASH" for t in header) % 2 == 1
    point = _tail(r"[^\s,{}]*", before)
    prior = _significant(tokens(before[:len(before) - len(point)]))
    if _depth(toks) <= 0 and not in_predicate and (not prior or starts_program(prior)):
        word, candidates = _attach_point_words(point, machine)
        if prior or ":" in point:
            return word, candidates
        # The first word of a cell: a probe, or the start of a bare statement.
        word, more = _expression_words(before, names)
        return (point, candidates + more) if word == point else (word, more)
    member = _MEMBER.search(before)
    if member:
        points = [t.text for t in header if t.type == "ATTACH_POINT"]
        chain = re.findall(r"\$?\w+", member[1])
        fields = _members(chain, points, machine, before)
        return member[2], [f for f in fields if f.startswith(member[2])]
    return _expression_words(before, names)


def _attach_point_words(point: str, machine: Machine) -> tuple[str, list[str]]:
    provider, colon, rest = point.partition(":")
    if not colon:
        return point, [p for p in PROVIDERS if p.startswith(point)]
    kind = BY_PROVIDER.get(provider)
    catalogue = KINDS[kind].catalogue if kind is not None else None
    parts = ATTACH_POINT_PARTS.get(catalogue) if catalogue is not None else None
    head, _, last = rest.rpartition(":")
    candidates = parts(head, machine) if parts else []
    if catalogue == Catalogue.BINARY_FUNCTIONS and not head:
        candidates = _binary_paths(last)
    return last, [c for c in candidates if c.startswith(last)]


def _expression_words(before: str, names: Iterable[str]) -> tuple[str, list[str]]:
    word = _tail(r"[@$]?\w*", before)
    pool = names if word[:1] in ("@", "$") else BUILTIN_DOCS
    return word, sorted(n for n in set(pool) if n.startswith(word) and n != word)


# ---- highlighting ---------------------------------------------------------------------

_CLASS_OF = {
    "ATTACH_POINT": "probe", "PREDICATE": "predicate", "STRING": "string", "INT": "number",
    "TRUE": "number", "FALSE": "number", "MAP": "map", "VAR": "variable",
    "POSITIONAL": "variable", "COMMENT": "comment", "PREPROC": "comment", "INT_TYPE": "type",
    "C_TYPE_WORD": "type", "STRUCT": "type", "UNION": "type", "ENUM": "type", "ERROR": "error",
}
STYLE = {
    "probe": "ansicyan bold", "predicate": "ansiyellow", "keyword": "ansimagenta bold",
    "type": "ansigreen", "string": "ansiyellow", "number": "ansiblue", "map": "ansired",
    "variable": "ansired", "builtin": "ansicyan", "function": "ansiblue bold",
    "comment": "ansibrightblack italic", "error": "bg:ansired ansiwhite",
}


def token_class(token: Token) -> str:
    """The style class of a token ("" for operators, punctuation and other names)."""
    if token.type == "NAME":
        # A name that is both (pid, nsecs, kstack) reads as the builtin it names.
        return ("builtin" if token.text in VARIABLES else
                "function" if token.text in FUNCTIONS else "")
    return _CLASS_OF.get(token.type) or ("keyword" if token.type in keywords() else "")


def highlight(text: str) -> list[StyleAndTextTuples]:
    """The styled fragments of each line of `text`."""
    lines: list[StyleAndTextTuples] = [[]]
    for token in tokens(text):
        name = token_class(token)
        for i, part in enumerate(token.text.split("\n")):
            if i:
                lines.append([])
            if part:
                lines[-1].append((f"class:{name}" if name else "", part))
    return lines


class _Highlighter(Lexer):
    """Colours from the grammar's terminals (see `highlight`)."""

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines = highlight(document.text)
        return lambda number: lines[number] if number < len(lines) else []


class _Completer(Completer):
    """Tab: `complete` with the names of the session and of the cell being written."""

    def __init__(self, repl: Repl):
        self.repl = repl

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        names = self.repl.names | names_in(document.text)
        before = document.text_before_cursor
        word, candidates = complete(before, self.repl.machine, names)
        docs = {} if _MEMBER.search(before) else BUILTIN_DOCS  # a field is not a builtin
        for candidate in candidates:
            yield Completion(candidate, start_position=-len(word),
                             display_meta=docs.get(candidate, ""))


# ---- the prompt -----------------------------------------------------------------------

def history_path(environ: dict[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/ptrace/history, by default ~/.local/state/ptrace/history."""
    state = (os.environ if environ is None else environ).get("XDG_STATE_HOME", "")
    # The XDG specification says to ignore a relative path.
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "ptrace" / "history"


def open_history(path: Path, err: TextIO) -> History:
    """The history file, readable by its owner only (cells may hold secrets)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        os.chmod(path, 0o600)
    except OSError as error:
        err.write(f"ptrace: warning: no history across sessions: {path}: {error.strerror}\n")
        return InMemoryHistory()
    return FileHistory(str(path))


def prompt_session(repl: Repl, history: History, input: Input | None = None,
                   output: TerminalOutput | None = None) -> PromptSession[str]:
    """The prompt. Enter runs a complete cell, or else goes on to an indented line;
    Alt-Enter adds a line; a `}` typed on an indent takes one level back.

    While a cell runs (`repl.running`), the prompt says so, Ctrl-C stops the
    cell and keeps what was typed, and Enter runs nothing: it says a cell is
    running and leaves the text for after."""
    keys = KeyBindings()
    running = Condition(lambda: repl.running is not None)

    @keys.add("enter", filter=~is_searching)
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if not is_complete(buffer.text):
            indent = max(_depth(tokens(buffer.document.text_before_cursor)), 0)
            buffer.insert_text("\n" + "    " * indent)
        elif repl.running is None:
            buffer.validate_and_handle()
        elif buffer.text.strip():
            run_in_terminal(lambda: _write(repl.err, BUSY), in_executor=False)

    # Raw mode makes Ctrl-C a key; a SIGINT from elsewhere arrives as <sigint>.
    @keys.add("c-c", filter=running)
    @keys.add("<sigint>", filter=running)
    def _stop(event: KeyPressEvent) -> None:
        if repl.running is not None:
            repl.running.stop()

    @keys.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @keys.add("}", filter=~is_searching)
    def _close(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        indent = buffer.document.current_line_before_cursor
        if indent and not indent.strip():  # undo one level of the indent Enter added
            buffer.delete_before_cursor(min(len(indent), 4))
        buffer.insert_text("}")

    return PromptSession(
        lambda: PROMPT if repl.running is None else RUNNING_PROMPT, multiline=True,
        key_bindings=keys, history=history,
        prompt_continuation=lambda width, _line, _wrap: "." * (width - 1) + " ",
        lexer=_Highlighter(), style=Style.from_dict(STYLE), completer=_Completer(repl),
        complete_while_typing=False, input=input, output=output)


# ---- running cells and commands -------------------------------------------------------

class _KeepMaps:
    """Passes a run's output on, and keeps the maps printed when it ended, for `:maps`.

    The blank lines before those maps are left out when there are none: a
    cell such as `printf("hi\\n")` is followed by the prompt, not by space.
    """

    def __init__(self, inner: Output):
        self.inner = inner
        self.at_exit = False
        self.maps: list[tuple[Any, ...]] = []  # the arguments of Output.map

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def maps_at_exit(self) -> None:
        self.at_exit = True

    def map(self, *args: Any) -> None:
        if self.at_exit:
            if not self.maps:
                self.inner.maps_at_exit()
            self.maps.append(args)
        self.inner.map(*args)


def _write(stream: TextIO, text: str) -> None:
    stream.write(text)
    stream.flush()


def _internal_error(error: Exception) -> str:
    return (f"ptrace: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in ptrace (set PTRACE_DEBUG=1 to see the traceback).\n")


class _HeldStream(io.TextIOBase):
    """One of a running cell's streams: what is written goes to the cell's hold."""

    def __init__(self, cell: _RunningCell, target: TextIO):
        self.cell, self.target = cell, target

    def write(self, text: str) -> int:
        self.cell.hold(self.target, text)
        return len(text)

    def flush(self) -> None:
        self.cell.release()


@contextlib.contextmanager
def _terminate_on_sigterm(app: Application[str]) -> Iterator[None]:
    """SIGTERM leaves the REPL as Ctrl-D does: a running cell stops, its END runs
    and its maps print, then the REPL ends."""
    import signal

    def leave(_signum: int, _frame: object) -> None:
        if app.is_running:
            app.exit(exception=EOFError())
        else:  # between prompts: the next one leaves at once
            app.pre_run_callables.append(lambda: app.exit(exception=EOFError()))

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _RunningCell:
    """A cell running in a worker thread while the prompt stays up.

    The session writes to `out` and `err`, which hold the text. At each flush
    the whole lines are released, in the order written across both streams,
    and the prompt's thread writes them above the prompt (prompt_toolkit's
    `run_in_terminal`); when the run ends, the rest. The worker wakes the
    prompt's event loop for that; a wake-up lost between two prompts is made
    up by `show_now`, which the next prompt calls before it draws.

    `stop` ends the run as Ctrl-C ends a script: the prompt keeps the terminal
    in raw mode, so Ctrl-C is a key to the prompt, not a signal to the run
    (which signals could not reach anyway: they go to the main thread).
    Only the prompt's thread writes to the terminal and clears `repl.running`.
    """

    def __init__(self, repl: Repl, app: Application[str], program: CompiledProgram,
                 options: RunOptions):
        self.repl, self.app = repl, app
        self.out = cast(TextIO, _HeldStream(self, repl.out))
        self.err = cast(TextIO, _HeldStream(self, repl.err))
        self._lock = threading.Lock()
        self._held: list[tuple[TextIO, str]] = []  # written, not yet a whole line
        self._ready: list[tuple[TextIO, str]] = []  # to write above the prompt
        self._ended = False
        self._session: Session | None = None
        self._stop_asked = False
        self._signals_received: list[int] = []  # before the session had started
        # Signals reach only this (the main) thread: it takes those of the cell's
        # self:signal probes for the session until the cell has ended.
        from ptrace.runtime.session import probe_signals

        self._signal_handlers = contextlib.ExitStack()
        self._signal_handlers.enter_context(probe_signals(program.signals, self.deliver))
        self._thread = threading.Thread(target=self._work, args=(program, options),
                                        name="ptrace-cell", daemon=True)
        self._thread.start()

    # ---- the worker thread ----
    def _work(self, program: CompiledProgram, options: RunOptions) -> None:
        try:
            self.repl.run_program(program, options, self.out, self.err, self._started)
        except Exception as error:  # a bug: say so, and keep the session
            self.err.write(traceback.format_exc() if os.environ.get("PTRACE_DEBUG")
                           else _internal_error(error))
        finally:
            with self._lock:
                self._ready.extend(self._held)
                self._held = []
                self._ended = True
            self._wake()

    def _started(self, session: Session) -> None:
        with self._lock:
            self._session = session
            stop = self._stop_asked
            early, self._signals_received = self._signals_received, []
        for signum in early:
            session.deliver(signum)
        if stop:
            session.stop()

    def deliver(self, signum: int) -> None:
        with self._lock:
            session = self._session
            if session is None:
                self._signals_received.append(signum)
        if session is not None:
            session.deliver(signum)

    def hold(self, target: TextIO, text: str) -> None:
        with self._lock:
            if self._held and self._held[-1][0] is target:
                text = self._held.pop()[1] + text
            self._held.append((target, text))

    def release(self) -> None:
        """Make the whole lines held ready to show, and wake the prompt."""
        with self._lock:
            last = max((i for i, (_, text) in enumerate(self._held) if "\n" in text),
                       default=None)
            if last is None:
                return
            target, text = self._held[last]
            lines, newline, rest = text.rpartition("\n")
            self._ready += [*self._held[:last], (target, lines + newline)]
            self._held = ([(target, rest)] if rest else []) + self._held[last + 1:]
        self._wake()

    def _wake(self) -> None:
        loop = self.app.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # closed: the next prompt shows it
                loop.call_soon_threadsafe(self._show, context=self.app.context)

    # ---- the prompt's thread ----
    def _show(self) -> None:
        with self._lock:
            due = bool(self._ready) or self._ended
        if due and self.repl.running is self:  # else an earlier wake-up has shown it
            run_in_terminal(self.show_now, in_executor=False)

    def show_now(self) -> None:
        """Write what is ready; once the run has ended and all is written, the prompt
        is free again."""
        with self._lock:
            ready, self._ready = self._ready, []
            ended = self._ended
        for target, text in ready:
            _write(target, text)
        if ended and self.repl.running is self:
            self.repl.running = None
            self._signal_handlers.close()

    def stop(self) -> None:
        with self._lock:
            self._stop_asked = True
            session = self._session
        if session is not None:
            session.stop()

    def wait(self) -> None:
        """Until the run has ended and shown all it wrote."""
        self._thread.join()
        self.show_now()


class Repl:
    """The state of a session: settings, the last cell, the names used so far, the
    cell running behind the prompt."""

    def __init__(self, options: Options, *, json: bool = False, quiet: bool = False,
                 verbose: bool = False, dry_run: bool = False, machine: Machine | None = None,
                 out: TextIO | None = None, err: TextIO | None = None):
        self.options = options
        self.format = "json" if json else "text"
        self.quiet, self.verbose, self.dry_run = quiet, verbose, dry_run
        self.machine: Machine = machine or LiveMachine()
        self._out, self._err = out, err
        self.names: set[str] = set()
        self.cells = 0
        self.last: Cell | None = None
        self.maps: list[tuple[Any, ...]] = []
        self.app: Application[str] | None = None  # the prompt, while `loop` runs
        self.running: _RunningCell | None = None

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout  # looked up when used: sys.stdout may be replaced

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    def loop(self, session: PromptSession[str]) -> int:
        self.app = session.app
        try:
            with _terminate_on_sigterm(session.app):
                while True:
                    try:
                        text = session.prompt(pre_run=self._show_running)
                    except KeyboardInterrupt:
                        continue
                    except EOFError:
                        if self.running is not None:  # leaving stops it: END runs, maps print
                            self.running.stop()
                            self.running.wait()
                        return 0
                    if not self.handle(text):
                        return 0
        finally:
            self.app = None

    def _show_running(self) -> None:
        if self.running is not None:
            self.running.show_now()

    def handle(self, text: str) -> bool:
        """Run a cell or a command; False to leave. Errors are shown, the REPL stays up."""
        try:
            if text.strip().startswith(":"):
                return self.command(text.strip())
            if text.strip():
                self.cells += 1
                self.run(Cell.of(Source(f"cell{self.cells}", text)))
        except KeyboardInterrupt:
            self.err.write("interrupted\n")
        except Exception as error:  # a bug: say so, and keep the session
            if os.environ.get("PTRACE_DEBUG"):
                raise
            self.err.write(_internal_error(error))
        return True

    def run(self, cell: Cell) -> int:
        """Compile and run a cell until it ends (exit(), Ctrl-C, or only BEGIN); its status.

        At the prompt, a cell with probes runs behind it instead (`_RunningCell`):
        0 once it has started.
        """
        self.last = cell
        self.names |= names_in(cell.typed.text)
        program = self._compile(cell)
        if program is None:
            return 1
        from ptrace.runtime.features import root_problem

        problem = root_problem()
        if problem:
            self.err.write(f"ptrace: error: {problem}\n")
            return 1
        from ptrace.runtime.session import RunOptions

        options = RunOptions(quiet=self.quiet or cell.is_wrapped, json=self.format == "json",
                             verbose=self.verbose, dry_run=self.dry_run)
        self.maps = []
        if self.app is not None and program.attached_programs and not options.dry_run:
            self.running = _RunningCell(self, self.app, program, options)
            return 0
        if program.attached_programs and not options.quiet:
            self.err.write("Running; Ctrl-C stops the cell.\n")
        return self.run_program(program, options, self.out, self.err)

    def run_program(self, program: CompiledProgram, options: RunOptions, out: TextIO,
                    err: TextIO, started: Callable[[Session], None] | None = None) -> int:
        """Run a compiled cell, writing to `out` and `err`; its status. `started` is
        given the session before it runs (to stop it from another thread)."""
        from ptrace.live import run_session
        from ptrace.runtime.errors import RuntimeFailure
        from ptrace.runtime.libbcc import LibraryMissing
        from ptrace.runtime.output import new_output

        try:
            kept = _KeepMaps(new_output(out, err, options.json, options.quiet))
            code = run_session(program, out, err, options, output=kept, started=started)
        except (RuntimeFailure, LibraryMissing) as error:
            out.flush()
            _write(err, f"ptrace: error: {error}\n")
            return 1
        self.maps = kept.maps
        return code

    def _compile(self, cell: Cell, dumps: tuple[str, ...] = ()) -> CompiledProgram | None:
        try:
            if cell.is_wrapped:  # syntax errors in the terms of the text as typed
                parse(cell.typed, start="stmts")
            program = compile_program(cell.program, self.options, self.machine, dumps)
        except (CompileError, ScriptError) as error:  # (the parser's, the compiler's)
            for text in error.dumps.values():  # :types, shown even when checking fails
                self.out.write(text.rstrip("\n") + "\n")
            self.err.write(render_all(cell.diagnostics(error)) + "\n")
            return None
        for warning in program.warnings:
            self.err.write(warning + "\n")
        return program

    # ---- commands: `:name argument` calls command_<name>(argument) ----
    def command(self, line: str) -> bool:
        name, _, argument = line.partition(" ")
        if name[1:] in DUMP_STAGES:
            self.dump(name[1:])
        elif name in COMMANDS:
            return getattr(self, "command_" + name[1:])(argument.strip()) is not False
        else:
            self.err.write(f"ptrace: error: unknown command '{name}' (:help lists them)\n")
        return True

    def command_help(self, _: str) -> None:
        self.out.write(HELP + "\n")
        for name, (arguments, what) in COMMANDS.items():
            self.out.write(f"  {name} {arguments}".ljust(22) + f" {what}\n")

    def command_list(self, pattern: str) -> None:
        """The tracepoints `ptrace -l tracepoint:PATTERN` lists (`tracepoint:` optional)."""
        pattern = re.sub(r"^(tracepoint|t):", "", pattern or "*")
        found = list_probes(f"tracepoint:{pattern}", False, self.machine)
        self.out.write("".join(f"{f}\n" for f in found) or f"no tracepoint matches {pattern}\n")

    def dump(self, stage: str) -> None:
        if self.last is None:
            self.err.write("ptrace: error: no cell yet\n")
            return
        program = self._compile(self.last, dumps=(stage,))
        if program is not None:
            self.out.write(program.dumps[stage].rstrip("\n") + "\n")

    def command_load(self, path: str) -> None:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as error:
            self.err.write(f"ptrace: error: cannot read {path or '(no file given)'}: "
                           f"{error.strerror}\n")
            return
        self.run(Cell.of(Source(path, text)))

    def command_set(self, argument: str) -> None:
        key, _, value = argument.partition(" ")
        value = value.strip()
        if not key:
            for name in SETTINGS:
                self.out.write(f"{name} = {setting_text(self.options, name)}\n")
            self.out.write(f"format = {self.format}\n")
        elif key == "format" and value in ("text", "json"):
            self.format = value
        elif key == "format":
            self.err.write("ptrace: error: format must be text or json\n")
        elif key not in SETTINGS:
            self.err.write(f"ptrace: error: unknown setting '{key}'; the settings are "
                           f"{', '.join(SETTINGS)} and format\n")
        else:
            try:
                self.options = apply_setting(self.options, key, value)
            except SettingError as error:
                self.err.write(f"ptrace: error: {error}\n")

    def command_maps(self, _: str) -> None:
        if not self.maps:
            self.out.write("the last cell printed no maps\n")
            return
        from ptrace.runtime.output import new_output

        output = new_output(self.out, self.err, self.format == "json")
        for args in self.maps:
            output.map(*args)
        output.flush()

    def command_quit(self, _: str) -> bool:
        return False


# ---- the entry point ------------------------------------------------------------------

def main(args: argparse.Namespace) -> int:
    """The REPL, for the CLI's parsed arguments (format, quiet, unsafe, verbose, dry_run).

    On a terminal, cells until Ctrl-D or :quit (status 0). Otherwise the whole
    of standard input is one program, as with `ptrace -`; its status.
    """
    try:
        options = from_environment(Options(unsafe=args.unsafe))
    except SettingError as error:
        print(f"ptrace: error: {error}", file=sys.stderr)
        return 1
    repl = Repl(options, json=args.format == "json", quiet=args.quiet, verbose=args.verbose,
                dry_run=args.dry_run)
    if not sys.stdin.isatty():
        source = read_stdin()
        return 1 if source is None else repl.run(Cell(source, source))
    standard_output()
    return repl.loop(prompt_session(repl, open_history(history_path(), sys.stderr)))
