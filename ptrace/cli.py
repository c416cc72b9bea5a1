"""The `ptrace` command: parse arguments, compile, run. Thin on purpose.

The options are declared once, in ptrace/cli_usage.py, which also renders the
help, the man page and the bash completion. Listing probes (-l) and printing
the kernel checks (--info) are in cli_probes.py; the checks themselves ("can
programs be loaded here?") are the runtime's, in runtime/features.py.

Exit status: the script's exit(code), 0 normally, 1 for errors the user can
fix (usage, diagnostics, no root, refusals by the kernel), 2 for internal errors.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO, TextIO, cast

from ptrace import __version__
from ptrace.cli_usage import (
    VERIFIER_STAGE,
    FlagError,
    UsageError,
    dump_stages,
    help_text,
    no_features,
    parse,
    usage_text,
)
from ptrace.diagnostics import CompileError, Severity, Source, render_all
from ptrace.options import Options, SettingError, from_environment
from ptrace.streams import (
    CheckedOutput,
    OutputFailed,
    StreamWrapper,
    entry_point,
    finish,
    write_out,
)

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from ptrace.program import BpfProgram, CompiledProgram

# What the interactive prompt does not do: it writes to the terminal, runs no
# command and follows no process, and dumps stages with :ast, :ir, …
NOT_FOR_THE_PROMPT = (("output", "-o"), ("buffering", "-B"), ("pid", "-p"),
                      ("command", "-c"), ("dump", "-d"))
TOOLS_PACKAGE = "ptrace.tools"  # -t NAME runs its NAME.bt
# Where --include looks for a header, as a C compiler's #include <…> does.
INCLUDE_DIRS = ("/usr/local/include", "/usr/include")


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        _check(args)
    except UsageError as error:
        usage = f"\n{usage_text()}" if isinstance(error, FlagError) else ""
        print(f"ptrace: error: {error} (ptrace -h lists the options)\n{usage}", end="",
              file=sys.stderr)
        return 1
    return finish(lambda: _dispatch(args))


def _check(args: argparse.Namespace) -> None:
    """Combinations of options that mean nothing; UsageError says which."""
    if args.list and (args.tool is not None or args.interactive):
        raise UsageError("-l lists probes: of a PATTERN, a FILE or -e PROGRAM, not of -t or -i")
    if args.list and args.program is not None and args.args:
        raise UsageError("-l -e PROGRAM lists the program's probes; it takes no PATTERN")
    if args.list and len(args.args) > 1:
        raise UsageError("-l takes one PATTERN")
    if args.program is not None and args.tool:
        raise UsageError("-e and -t both give a program; give one")
    if args.interactive and (args.program is not None or args.tool is not None or args.args):
        raise UsageError("-i opens the interactive prompt; it takes no program")
    if args.pid is not None and args.command is not None:
        raise UsageError("-p and -c both name the process to trace; give one")
    if args.test and args.mode not in (None, "test"):
        raise UsageError(f"--test is --mode test; it cannot go with --mode {args.mode}")
    if args.probe_filter is not None:
        try:
            re.compile(args.probe_filter)
        except re.error as error:
            raise UsageError(f"--probe-filter: invalid regex '{args.probe_filter}': "
                             f"{error}") from None
    for header in args.include or ():
        if _header_path(header, args.include_dir or ()) is None:
            raise UsageError(f"--include: no header {header} in "
                             f"{', '.join((*(args.include_dir or ()), *INCLUDE_DIRS))} "
                             "(nor as a path)")
    if args.command is not None:
        import shlex

        try:
            shlex.split(args.command)
        except ValueError as error:  # "No closing quotation", "No escaped character"
            raise UsageError(f"-c: the command cannot be split into words: "
                             f"{str(error).lower()}") from None
    if args.metrics is not None:
        from ptrace.metrics import MetricsError, parse_address

        try:
            parse_address(args.metrics)
        except MetricsError as error:
            raise UsageError(str(error)) from None
    if args.dump:
        args.dump = dump_stages(args.dump)
    args.no_feature = no_features(args.no_feature or [])


def _dispatch(args: argparse.Namespace) -> int:
    if args.help:
        return write_out(help_text())
    if args.version:
        return write_out(f"ptrace v{__version__}\n")
    if args.info:
        return _info()
    if args.list:
        return _list(args)
    if args.tool == "":
        return _list_tools()
    positional = list(args.args)
    source: Source | None
    if args.program is not None:
        source = Source("-e", args.program)
    elif args.tool is not None:
        source = _tool_source(args.tool)
    elif positional:
        source = _read_source(positional.pop(0))
    elif args.interactive or (sys.stdin is not None and sys.stdin.isatty()):
        return _prompt(args)
    else:
        source = read_stdin()  # piped with no program: as `-`
    if source is None:
        return 1
    if args.fmt:
        return _format(source)
    return _compile_and_run(source, args, tuple(positional))


def _prompt(args: argparse.Namespace) -> int:
    given = [flag for dest, flag in NOT_FOR_THE_PROMPT if getattr(args, dest) is not None]
    if given:
        print(f"ptrace: error: {given[0]} does not apply to the interactive prompt",
              file=sys.stderr)
        return 1
    if sys.stdin is None or sys.stdout is None:
        print("ptrace: error: the interactive prompt needs standard input and output",
              file=sys.stderr)
        return 1
    from ptrace import repl  # prompt_toolkit is imported only for the REPL

    start_collecting()

    if signal.getsignal(signal.SIGINT) == signal.SIG_DFL:  # as ptrace.launch left it
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the prompt takes Ctrl-C
    return repl.main(args)


# The largest script read from a file or standard input. Reading stops one byte
# after it, so that /dev/zero as the script is refused without filling memory.
MAX_SCRIPT_BYTES = 16 * 1024 * 1024


def read_stdin() -> Source | None:
    """The script on standard input; None (and the error said) if it is too large.
    Its bytes are read as they are: invalid UTF-8 is a located error of the parser."""
    if sys.stdin is None:
        print("ptrace: error: no program: standard input is closed "
              "(give a file or -e PROGRAM)", file=sys.stderr)
        return None
    stream: BinaryIO | TextIO = getattr(sys.stdin, "buffer", sys.stdin)
    return _limited_source("stdin", stream)


def _read_source(path: str) -> Source | None:
    if path == "-":
        return read_stdin()
    try:
        with open(path, "rb") as f:
            return _limited_source(path, f)
    except OSError as error:
        print(f"ptrace: error: cannot read {path}: {error.strerror}", file=sys.stderr)
        return None


def _limited_source(name: str, stream: BinaryIO | TextIO) -> Source | None:
    data = stream.read(MAX_SCRIPT_BYTES + 1)
    if len(data) > MAX_SCRIPT_BYTES:
        print(f"ptrace: error: {name}: the script is larger than "
              f"{MAX_SCRIPT_BYTES // (1024 * 1024)} MiB", file=sys.stderr)
        return None
    text = data if isinstance(data, str) else data.decode("utf-8", "surrogateescape")
    return Source(name, text)


# ---- -l and --info -------------------------------------------------------------------------

def _list(args: argparse.Namespace) -> int:
    """-l: the probes matching a PATTERN; those of a program (-l -e PROGRAM, -l FILE);
    with -v, types as C defines them (-lv 'struct task_struct')."""
    from ptrace.cli_probes import list_command

    pattern = args.args[0] if args.args else None
    if args.program is not None or (pattern is not None and os.path.isfile(pattern)):
        return _list_program(args)
    return list_command(pattern, args.verbose, args.pid, tuple(args.debuginfo or ()))


def _list_program(args: argparse.Namespace) -> int:
    """-l -e PROGRAM, -l FILE: the probes the program would attach, wildcards expanded
    (with -p, a uprobe's `*` binary is the process's), each once."""
    from ptrace.cli_probes import program_probes

    source = Source("-e", args.program) if args.program is not None \
        else _read_source(args.args[0])
    if source is None:
        return 1
    try:
        options = from_environment(Options(pid=args.pid or 0, has_command=args.pid is not None))
        names = program_probes(source, options)
    except SettingError as error:
        print(f"ptrace: error: {error}", file=sys.stderr)
        return 1
    except CompileError as error:
        print(render_all(error.diagnostics), file=sys.stderr)
        return 1
    sys.stdout.write("".join(f"{name}\n" for name in names))
    return 0


def _info() -> int:
    from ptrace.cli_probes import info_lines
    from ptrace.machine import LiveMachine

    return write_out("".join(f"{line}\n" for line in info_lines(LiveMachine())))


# ---- --fmt ---------------------------------------------------------------------------------

def _format(source: Source) -> int:
    """--fmt: the program written back from its tree, with its comments, on standard
    output."""
    from ptrace.ast.format import Comment, format_program
    from ptrace.parse import parse_program
    from ptrace.parse.tokens import tokens

    try:
        program = parse_program(source)
    except CompileError as error:
        print(render_all(error.diagnostics), file=sys.stderr)
        return 1
    comments = tuple(Comment(source.text.count("\n", 0, t.start) + 1, t.text)
                     for t in tokens(source.text) if t.type == "COMMENT")
    shebang = source.text.split("\n", 1)[0] if source.text.startswith("#!") else ""
    sys.stdout.write(format_program(program, shebang, comments))
    return 0


# ---- -t: the shipped tools -----------------------------------------------------------------

def tools() -> dict[str, Traversable]:
    """The shipped tools (ptrace/tools/NAME.bt) by name; none while there is no package."""
    from importlib import resources  # (with tempfile, random, …: only for -t)

    try:
        folder = resources.files(TOOLS_PACKAGE)
    except ModuleNotFoundError:
        return {}
    return {entry.name.removesuffix(".bt"): entry for entry in folder.iterdir()
            if entry.name.endswith(".bt") and entry.is_file()}


def tool_description(name: str, text: str) -> str:
    """A tool's first comment paragraph, without the tool's own name, joined into one line
    (" * naptime - sleeps …, who, how long they\n * asked for, …" → "sleeps … asked for, …")."""
    words: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not words and (not stripped or stripped.startswith("#!")):
            continue
        if not stripped.startswith(("//", "/*", "*")):
            break  # code (before any comment, or after the first paragraph)
        body = stripped.lstrip("/* ").removesuffix("*/").strip()
        if not words:
            body = re.sub(rf"^{re.escape(name)}(\.bt)?(?=$|[\s:-])[\s:-]*", "", body)
            if body:
                words.append(body)
        elif not body:
            break  # the paragraph ends at an empty comment line
        else:
            words.append(body)
        if stripped.endswith("*/") and words:
            break
    return " ".join(words)


def _list_tools() -> int:
    found = tools()
    width = max(map(len, found), default=0) + 2
    return write_out("".join(
        f"{name.ljust(width)}{tool_description(name, found[name].read_text('utf-8'))}"
        .rstrip() + "\n" for name in sorted(found)))


def _tool_source(name: str) -> Source | None:
    tool = tools().get(name)
    if tool is None:
        print(f"ptrace: error: no tool named {name} (ptrace -t lists them)", file=sys.stderr)
        return None
    return Source(f"{name}.bt", tool.read_text(encoding="utf-8"))


# ---- a run ---------------------------------------------------------------------------------

def _compile_and_run(source: Source, args: argparse.Namespace, params: tuple[str, ...]) -> int:
    if not args.dump or VERIFIER_STAGE in args.dump:
        from ptrace.runtime.features import load_problem

        problem = load_problem()
        if problem:
            print(f"ptrace: error: {problem}", file=sys.stderr)
            return 1
    from ptrace.script import Error, ScriptError, compile_script

    try:
        program = compile_script(
            source, params, unsafe=args.unsafe,
            # bpftrace 0.26's -k checks memory reads too; 0.17's -kk is the same.
            helper_errors=2 if args.helper_errors else 0,
            has_command=args.command is not None, pid=args.pid,
            debuginfo=args.debuginfo or (), hist_sums=args.metrics is not None,
            includes=tuple(path for header in args.include or ()
                           if (path := _header_path(header, args.include_dir or ()))
                           is not None),
            include_dirs=tuple(args.include_dir or ()),
            no_features=args.no_feature,
            dumps=tuple(s for s in args.dump or () if s != VERIFIER_STAGE),
            cache=not args.no_cache)
    except ScriptError as error:
        write_out("".join(f"{error.dumps[stage]}\n" for stage in args.dump or ()
                           if stage in error.dumps))
        print(render_all(d for d in error.diagnostics
                         if not (args.no_warnings and d.severity is Severity.WARNING)),
              file=sys.stderr)
        return 1
    except Error as error:
        print(f"ptrace: error: {error}", file=sys.stderr)
        return 1
    for warning in () if args.no_warnings else program.warnings:
        print(warning, file=sys.stderr)
    if args.probe_filter is not None:
        program = filter_probes(program, args.probe_filter)
        if not _filtered(program) and not args.dump:
            print(f"ptrace: error: no probes to attach: --probe-filter '{args.probe_filter}' "
                  "matches none of the program's probes", file=sys.stderr)
            return 1
    if args.dump:
        return _dump(program, args.dump)
    mode = "test" if args.test else args.mode or "run"
    for_the_mode = for_mode(program, mode)
    if isinstance(for_the_mode, str):
        print(f"ptrace: error: {for_the_mode}", file=sys.stderr)
        return 1
    program = for_the_mode
    from ptrace.live import run_session
    from ptrace.runtime.errors import RuntimeFailure
    from ptrace.runtime.libbcc import LibraryMissing
    from ptrace.runtime.output import new_output
    from ptrace.runtime.session import RunOptions
    from ptrace.runtime.target import Target

    file = _open_output(args.output)
    if file is None:
        return 1
    checked = cast(TextIO, CheckedOutput(file, args.output or "standard output"))
    out = BufferedOutput(checked, args.buffering) if args.buffering else checked
    options = RunOptions(quiet=args.quiet, dry_run=args.dry_run, verbose=args.verbose,
                         json=args.format == "json", mode=mode,
                         on_attached=_notify_attached if NOTIFY_ATTACHED in os.environ else None)
    try:
        target = None
        if args.pid is not None:
            target = Target.existing(args.pid)
        elif args.command is not None and not args.dry_run:
            target = Target.command(args.command)
        # The session writes and flushes; a BufferedOutput is a text stream for that.
        output = new_output(cast(TextIO, out), sys.stderr, options.json, options.quiet,
                            warnings=not args.no_warnings)
        start_collecting()
        code = run_session(program, cast(TextIO, out), sys.stderr, options, target,
                           metrics=args.metrics, output=output)
        if args.dry_run:
            print(dry_run_summary(program), file=sys.stderr)
        _finish_output(out)
        return code
    except (RuntimeFailure, LibraryMissing) as error:
        _finish_output(out)  # what the run printed comes before the error
        print(f"ptrace: error: {error}", file=sys.stderr)
        return 1
    except OutputFailed as error:
        print(f"ptrace: error: {error}; the run stopped{_unprinted(program)}",
              file=sys.stderr)
        return 1
    finally:
        if file is not sys.stdout:
            file.close()


# bpftrace's signal to programs that drive it (its test runner, and others): with
# this variable set, a line of its name on standard output once the probes are
# attached, before anything the probes printed (-q and -o do not change it).
NOTIFY_ATTACHED = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"


def _notify_attached() -> None:
    write_out(NOTIFY_ATTACHED + "\n")


def filter_probes(program: CompiledProgram, pattern: str) -> CompiledProgram:
    """--probe-filter: the programs of the probes whose full name the regex finds
    (a search, as grep's), of those it applies to (the attached probes, bench:
    and test: probes), and every other program (BEGIN, END, self)."""
    from dataclasses import replace

    filtered = set(_filtered(program))
    regex = re.compile(pattern)
    return replace(program, programs=tuple(
        p for p in program.programs if p not in filtered or regex.search(p.attach.probe)))


def _filtered(program: CompiledProgram) -> tuple[BpfProgram, ...]:
    """The programs --probe-filter chooses among."""
    from ptrace.probe_kinds import MODE_KINDS

    return tuple(p for p in program.programs
                 if p in program.attached_programs or p.attach.kind in MODE_KINDS.values())


def for_mode(program: CompiledProgram, mode: str) -> CompiledProgram | str:
    """The program as --mode runs it, else why it cannot. As bpftrace: --mode
    bench runs begin, end and the bench: probes, --test begin, end and the test:
    probes, the default mode (run) every other probe; each mode leaves the
    others' probes out, so that a script may keep its tests beside its tracing."""
    from dataclasses import replace

    from ptrace.probe_kinds import MODE_KINDS, ProbeKind

    own = MODE_KINDS.get(mode)
    if own is None:
        kept = [p for p in program.programs if p.attach.kind not in MODE_KINDS.values()]
        if not kept:  # every probe is a bench: or a test: probe
            first = program.programs[0].attach
            return f"{first.probe} runs with {_MODE_OPTIONS[first.kind.value]}"
    else:
        kept = [p for p in program.programs
                if p.attach.kind in (ProbeKind.BEGIN, ProbeKind.END, own)]
        if not any(p.attach.kind == own for p in kept):
            return (f"{_MODE_OPTIONS[mode]} runs the program's {own.value}:NAME probes, "
                    "and it has none")
    return replace(program, programs=tuple(kept))


# How a command line asks for each mode that runs probes of its own.
_MODE_OPTIONS = {"bench": "--mode bench", "test": "--test"}


def _header_path(header: str, include_dirs: Sequence[str]) -> str | None:
    """Where --include's header is: a path as given, or under the -I
    directories or INCLUDE_DIRS."""
    for folder in ("", *include_dirs, *INCLUDE_DIRS):
        path = os.path.join(folder, header)
        if os.path.isfile(path):
            return path
    return None


def _dump(program: CompiledProgram, stages: tuple[str, ...]) -> int:
    """-d: the stages asked for, on standard output; the verifier's log loads
    the program (and closes it again)."""
    logs: list[str] = []
    if VERIFIER_STAGE in stages:
        from ptrace.runtime.errors import RuntimeFailure
        from ptrace.runtime.libbcc import LibraryMissing, load
        from ptrace.runtime.loader import verifier_logs

        try:
            logs = verifier_logs(load(), program)
        except (RuntimeFailure, LibraryMissing) as error:
            print(f"ptrace: error: {error}", file=sys.stderr)
            return 1
    return write_out("".join(f"{text}\n" for stage in stages for text in (
        logs if stage == VERIFIER_STAGE else (program.dumps[stage],))))


def dry_run_summary(program: CompiledProgram) -> str:
    """What --dry-run checked: the programs, maps and instructions the kernel accepted."""
    programs, probes = len(program.programs), len(program.attached_programs)
    instructions = sum(len(p.insns) for p in program.programs) // 8
    return (f"ptrace: dry run: {_counted(programs, 'program')} "
            f"({_counted(probes, 'probe')} to attach), {_counted(len(program.maps), 'map')} "
            f"({len(program.user_maps)} of the script's), "
            f"{_counted(instructions, 'instruction')}: loaded, and accepted by the kernel's "
            "verifier; nothing was attached or run")


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _unprinted(program: CompiledProgram) -> str:
    """What a run whose output failed did not print: its maps at exit."""
    if not program.print_maps_on_exit or not program.user_maps:
        return ""
    names = [program.maps[index].name for index in program.user_maps]
    return f", and {', '.join(names)} {'was' if len(names) == 1 else 'were'} not printed"


def _finish_output(out: TextIO | BufferedOutput) -> None:
    if isinstance(out, BufferedOutput):
        out.close()  # writes what the mode held back; the stream stays open
    else:
        out.flush()


def standard_output() -> TextIO:
    """Standard output, set up for a run's results (the CLI's and the REPL's): bytes
    that are not UTF-8 (in strings the kernel gave) are written back as they came."""
    sys.stdout.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
    return sys.stdout


def _open_output(path: str | None) -> TextIO | None:
    if path is None:
        if sys.stdout is None:
            print("ptrace: error: cannot write to standard output: it is closed "
                  "(give -o FILE for the output)", file=sys.stderr)
            return None
        return standard_output()
    try:
        return open(path, "w", encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        print(f"ptrace: error: cannot write {path}: {error.strerror}", file=sys.stderr)
        return None


class BufferedOutput(StreamWrapper):
    """The output under -B MODE: when what is written reaches the stream.

    "none": after every write; "line": after every complete line; "full": when
    BUFFER_SIZE characters wait, and at close. The run's own flushes (after each
    batch of events) are ignored: the mode decides. Closing writes what is left
    and flushes the stream, but leaves the stream open.
    """

    BUFFER_SIZE = io.DEFAULT_BUFFER_SIZE

    def __init__(self, stream: TextIO, mode: str):
        super().__init__(stream)
        self.mode = mode
        self.pending = ""

    def write(self, text: str, /) -> int:
        self.pending += text
        if self.mode == "none" or len(self.pending) >= self.BUFFER_SIZE:
            self._send(len(self.pending))
        elif self.mode == "line" and "\n" in text:
            self._send(self.pending.rfind("\n") + 1)
        return len(text)

    def _send(self, count: int) -> None:
        self.stream.write(self.pending[:count])
        self.stream.flush()
        self.pending = self.pending[count:]

    def flush(self) -> None:
        pass  # the mode decides when to flush

    def close(self) -> None:
        if not self.closed:
            self._send(len(self.pending))
        super().close()


def start_collecting() -> None:
    """The garbage collector, off while ptrace starts (ptrace/launch.py), runs
    again for what lasts: a run and the prompt."""
    gc.enable()


def entry() -> None:
    """The command's entry point (after ptrace/launch.py's): see streams.entry_point."""
    entry_point(main)
