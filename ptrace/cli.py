"""The `ptrace` command: parse arguments, compile, run. Thin on purpose.

Exit status: the script's exit(code), 0 normally, 1 for errors the user can
fix (diagnostics, refusals by the kernel), 2 for internal errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from ptrace import __version__
from ptrace.diagnostics import CompileError, Source, render_all
from ptrace.options import Options, SettingError, from_environment

DUMP_STAGES = ("ast", "ir", "ir-opt", "asm")
USAGE = "ptrace [options] (FILE | -e PROGRAM | - | -i) [ARG ...]"
EPILOG = """examples:
  ptrace -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
  ptrace -e 'tracepoint:syscalls:sys_enter_execve { printf("%s\\n", str(args.filename)); }'
  ptrace script.bt 42
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ptrace", usage=USAGE, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="A bpftrace-compatible tracing language.")
    p.add_argument("-e", dest="program", metavar="PROGRAM", help="the program to run")
    p.add_argument("-i", dest="interactive", action="store_true",
                   help="interactive: a prompt for cells (the default with no program "
                        "on a terminal)")
    p.add_argument("-q", dest="quiet", action="store_true",
                   help="quiet: do not print 'Attached N probes'")
    p.add_argument("-o", dest="output", metavar="FILE", help="write output to FILE")
    p.add_argument("-f", dest="format", metavar="FORMAT", choices=("text", "json"),
                   default="text", help="output format: text (default) or json")
    p.add_argument("-d", dest="dump", metavar="STAGE", choices=DUMP_STAGES, action="append",
                   help=f"print a compiler stage and exit: {', '.join(DUMP_STAGES)}")
    p.add_argument("-v", dest="verbose", action="store_true",
                   help="verbose: the whole verifier log when loading fails")
    p.add_argument("-p", dest="pid", metavar="PID", type=int,
                   help="trace process PID: uprobes fire only in it; stop when it ends")
    p.add_argument("-c", dest="command", metavar="CMD",
                   help="run CMD once every probe is attached; stop when it ends (cpid)")
    p.add_argument("--unsafe", action="store_true",
                   help="allow actions that change the system: system(), signal()")
    p.add_argument("--dry-run", action="store_true",
                   help="compile and load into the kernel, but attach and run nothing")
    p.add_argument("-V", "--version", action="version", version=f"ptrace v{__version__}")
    p.add_argument("args", nargs="*", metavar="ARG",
                   help="FILE (or - for stdin) unless -e is given, then positional "
                        "parameters $1, $2, …")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    positional = list(args.args)
    if args.interactive and (args.program is not None or positional):
        print("ptrace: error: -i opens the interactive prompt; it takes no program",
              file=sys.stderr)
        return 1
    source: Source | None
    if args.program is not None:
        source = Source("-e", args.program)
    elif positional:
        path = positional.pop(0)
        source = _read_source(path)
        if source is None:
            return 1
    elif args.interactive or sys.stdin.isatty():
        from ptrace import repl  # prompt_toolkit is imported only for the REPL

        return repl.main(args)
    else:
        source = Source("stdin", sys.stdin.read())  # piped with no program: as `-`
    try:
        return _compile_and_run(source, args, tuple(positional))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (ptrace … | head): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _read_source(path: str) -> Source | None:
    if path == "-":
        return Source("stdin", sys.stdin.read())
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return Source(path, f.read())
    except OSError as error:
        print(f"ptrace: error: cannot read {path}: {error.strerror}", file=sys.stderr)
        return None


def _compile_and_run(source: Source, args: argparse.Namespace, params: tuple[str, ...]) -> int:
    from ptrace.compile import compile

    try:
        compile_options = from_environment(Options(
            params=params, unsafe=args.unsafe,
            has_command=args.command is not None or args.pid is not None))
    except SettingError as error:
        print(f"ptrace: error: {error}", file=sys.stderr)
        return 1
    try:
        program = compile(source, compile_options, dumps=tuple(args.dump or ()))
    except CompileError as error:
        print(render_all(error.diagnostics), file=sys.stderr)
        return 1
    for warning in program.warnings:
        print(warning, file=sys.stderr)
    if args.dump:
        for stage in args.dump:
            print(program.dumps[stage])
        return 0
    if os.geteuid() != 0:
        print("ptrace: error: loading BPF programs needs root (CAP_BPF and CAP_PERFMON)",
              file=sys.stderr)
        return 1
    from ptrace.runtime.errors import RuntimeFailure
    from ptrace.runtime.libbcc import LibraryMissing
    from ptrace.runtime.session import RunOptions, Session
    from ptrace.runtime.target import Target

    out = _open_output(args.output)
    if out is None:
        return 1
    options = RunOptions(quiet=args.quiet, dry_run=args.dry_run, verbose=args.verbose,
                         json=args.format == "json")
    try:
        target = None
        if args.pid is not None:
            target = Target.existing(args.pid)
        elif args.command is not None and not args.dry_run:
            target = Target.command(args.command)
        code: int = Session(program, out, sys.stderr, options, target).run()
        return code
    except (RuntimeFailure, LibraryMissing) as error:
        out.flush()
        print(f"ptrace: error: {error}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()


def _open_output(path: str | None) -> TextIO | None:
    if path is None:
        sys.stdout.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        print(f"ptrace: error: cannot write {path}: {error.strerror}", file=sys.stderr)
        return None


def entry() -> None:
    """Console-script entry point: internal errors say so, briefly, and exit 2."""
    try:
        code = main()
    except SystemExit:
        raise
    except BaseException as error:  # a bug: say so instead of showing a traceback
        if os.environ.get("PTRACE_DEBUG"):
            raise
        print(f"ptrace: internal error: {type(error).__name__}: {error}\n"
              "This is a bug in ptrace; please report it with the script that caused it "
              "(set PTRACE_DEBUG=1 to see the traceback).", file=sys.stderr)
        code = 2
    sys.exit(code)
