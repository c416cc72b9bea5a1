"""The command line's one option table, and everything made from it.

`OPTIONS` is the single source: `parse()` builds argparse from it, and
`help_text()` (`ptrace -h`), `man_page()` (docs/ptrace.1) and
`bash_completion()` (docs/ptrace.bash-completion) render it. After changing
the table, run scripts/gen-cli-docs; a unit test fails while the committed
files differ from what the generators make.

This module imports nothing heavy: `ptrace -h` and `ptrace -V` stay fast.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import NoReturn

from ptrace import __version__
from ptrace.options import SETTINGS, Options, setting_text

# -d's stages as the documentation lists them. The CLI checks a stage against
# the compiler's own list (ptrace.compile.DUMP_STAGES, slow to import); a unit
# test keeps the two equal.
DUMP_STAGES = ("ast", "types", "ir", "ir-opt", "asm")
# The stage after the compiler's: the verifier's log, which loading gives.
VERIFIER_STAGE = "verifier"
# bpftrace 0.26's -d names, as ptrace's stages: its parse and ast both print
# the syntax tree, codegen and codegen-opt the LLVM IR before and after
# optimisation, dis the BPF instructions; all is every stage.
BPFTRACE_STAGES = {"parse": "ast", "codegen": "ir", "codegen-opt": "ir-opt", "dis": "asm"}
# 0.26's stage that ptrace has nothing to print for, and why.
NO_SUCH_STAGE = {
    "libbpf": "ptrace loads programs through libbpf's low-level calls only, which log nothing",
}
STAGE_NAMES = (*DUMP_STAGES, VERIFIER_STAGE, *BPFTRACE_STAGES, *NO_SUCH_STAGE, "all")
# --no-feature's names, bpftrace 0.26's: kinds of BPF link. ptrace uses only
# uprobe_multi (a uprobe wildcard's functions through one link); it attaches
# kprobes one by one, so the other two change nothing.
FEATURES = ("uprobe_multi", "kprobe_multi", "kprobe_session")
FORMATS = ("text", "json")
BUFFERING = ("line", "full", "none")
GROUPS = ("OPTIONS", "OUTPUT OPTIONS", "TROUBLESHOOTING OPTIONS")


@dataclass(frozen=True, slots=True)
class Option:
    """One command-line option: its flags, its argparse attribute and its help."""

    flags: tuple[str, ...]  # ("-o",) or ("-V", "--version")
    dest: str  # the argparse attribute
    help: str  # one line: -h, the man page and the completion all show it
    group: str  # one of GROUPS
    metavar: str = ""  # the value's name; "" for an option without a value
    choices: tuple[str, ...] = ()
    number: bool = False  # the value is a whole number
    repeat: bool = False  # may be given more than once; the values are collected
    optional: bool = False  # the value may be left out (-t alone lists the tools)
    count: bool = False  # a flag counted: -k is 1, -kk 2
    operand: str = ""  # shown after the flag but parsed as a positional (-l [PATTERN])
    complete: str = ""  # what completes the value: file, pid, command, tool (or nothing)

    @property
    def takes_value(self) -> bool:
        return bool(self.metavar)

    @property
    def synopsis(self) -> str:
        """"-o FILE", "-t [TOOL]", "-h, --help": how the option is written."""
        value = self.operand or (f"[{self.metavar}]" if self.optional else self.metavar)
        return ", ".join(self.flags) + (f" {value}" if value else "")


OPTIONS: tuple[Option, ...] = (
    Option(("-e",), "program", "run PROGRAM, given on the command line", "OPTIONS",
           metavar="PROGRAM"),
    Option(("-t",), "tool", "run the shipped tool TOOL; -t alone lists the tools", "OPTIONS",
           metavar="TOOL", optional=True, complete="tool"),
    Option(("-l",), "list", "list the probes matching PATTERN, a glob (-lv: with their "
           "fields or parameters)", "OPTIONS", operand="[PATTERN]"),
    Option(("-i",), "interactive", "the interactive prompt (the default on a terminal "
           "without a program)", "OPTIONS"),
    Option(("-p", "--pid"), "pid", "trace process PID: uprobes fire only in it; stop when it ends",
           "OPTIONS", metavar="PID", number=True, complete="pid"),
    Option(("-c", "--cmd"), "command", "run CMD once every probe is attached; stop when it ends "
           "(cpid)", "OPTIONS", metavar="CMD", complete="command"),
    Option(("--fmt",), "fmt", "print the program formatted (one layout, as the shipped tools "
           "are written) and exit; runs nothing", "OPTIONS"),
    Option(("--metrics",), "metrics", "serve the program's maps as Prometheus metrics at "
           "http://[HOST:]PORT/metrics while it runs", "OPTIONS", metavar="[HOST:]PORT"),
    Option(("--mode",), "mode", "run: trace (the default); bench: run each bench:NAME probe "
           "over and over and print its average time; test: as --test", "OPTIONS",
           metavar="MODE", choices=("run", "bench", "test")),
    Option(("--test",), "test", "run each test:NAME probe once, report which pass (a "
           "non-zero return, an error or exit(N) fails one); exit status 1 if one failed",
           "OPTIONS"),
    Option(("--unsafe",), "unsafe", "allow actions that change the system: system(), "
           "signal()", "OPTIONS"),
    Option(("--debuginfo",), "debuginfo", "look for the debug files of user binaries in DIR "
           "first (repeatable)", "OPTIONS", metavar="DIR", repeat=True, complete="file"),
    Option(("--probe-filter",), "probe_filter", "attach only the probes whose full name "
           "matches REGEX (a search; BEGIN and END always run)", "OPTIONS", metavar="REGEX"),
    Option(("-I",), "include_dir", "look for #include's headers in DIR first (repeatable)",
           "OPTIONS", metavar="DIR", repeat=True, complete="file"),
    Option(("--include",), "include", "as '#include <FILE>' at the top of the program; "
           "the header must exist; repeatable", "OPTIONS", metavar="FILE", repeat=True,
           complete="file"),
    Option(("--usdt-file-activation",), "usdt_file_activation", "activate USDT semaphores "
           "in every process of the file (what ptrace always does)", "OPTIONS"),
    Option(("-h", "--help"), "help", "show this help and exit", "OPTIONS"),
    Option(("-V", "--version"), "version", "show ptrace's version and exit", "OPTIONS"),
    Option(("-o", "--output"), "output", "write the output to FILE instead of standard output",
           "OUTPUT OPTIONS", metavar="FILE", complete="file"),
    Option(("-f",), "format", "output format: text (the default) or json, one object a "
           "line", "OUTPUT OPTIONS", metavar="FORMAT", choices=FORMATS),
    Option(("-B",), "buffering", "output buffering: line, full or none (default: flush "
           "after each batch of events)", "OUTPUT OPTIONS", metavar="MODE", choices=BUFFERING),
    Option(("-q",), "quiet", "quiet: do not print 'Attached N probes'", "OUTPUT OPTIONS"),
    Option(("--no-warnings",), "no_warnings", "print no warnings: the compiler's, warnf()'s "
           "and -k's (lost events are still counted)", "OUTPUT OPTIONS"),
    Option(("-v",), "verbose", "verbose: the whole verifier log when loading fails",
           "TROUBLESHOOTING OPTIONS"),
    Option(("-d",), "dump", f"print a compiler stage ({', '.join(DUMP_STAGES)}; bpftrace's "
           "parse, codegen, codegen-opt, dis) and exit, no root needed; or the verifier's "
           "log (verifier, loading the program); all for every one; repeatable, or "
           "comma-separated", "TROUBLESHOOTING OPTIONS",
           metavar="STAGE", choices=STAGE_NAMES, repeat=True),
    Option(("-k",), "helper_errors", "warn when a BPF helper fails: memory reads, map "
           "updates, stack ids, signals (-kk is the same)", "TROUBLESHOOTING OPTIONS",
           count=True),
    Option(("--dry-run",), "dry_run", "compile and load into the kernel, but attach and run "
           "nothing", "TROUBLESHOOTING OPTIONS"),
    Option(("--no-feature",), "no_feature", "do not use a kind of BPF link the kernel has: "
           "uprobe_multi (a uprobe wildcard is then one program per function); kprobe_multi "
           "and kprobe_session are accepted and change nothing (ptrace does not use them); "
           "repeatable, or comma-separated", "TROUBLESHOOTING OPTIONS", metavar="FEATURE",
           choices=FEATURES, repeat=True),
    Option(("--no-cache",), "no_cache", "compile the program even where the compile cache "
           "holds it, and keep nothing there", "TROUBLESHOOTING OPTIONS"),
    Option(("--info",), "info", "show what this kernel supports: BPF, BTF, tracefs, each "
           "probe type", "TROUBLESHOOTING OPTIONS"),
)

USAGES = (
    "[options] FILE [ARG ...]",
    "[options] - [ARG ...]",
    "[options] -e PROGRAM [ARG ...]",
    "[options] -t TOOL [ARG ...]",
    "-l [-v] [PATTERN]",
    "[options] [-i]",
)
USAGE_NOTE = ("FILE - reads the program from standard input. Each ARG is a positional "
              "parameter: $1, $2, ... in the program; write -- before them when one "
              "starts with -. After --, an ARG --name=value (or --name) is a named "
              "option, read by getopt(\"name\", default) in the program.")

# What each setting does, for the ENVIRONMENT section (the table in
# ptrace.options has the keys, kinds and choices; a unit test checks that
# every key is described here).
SETTING_HELP = {
    "max_strlen": "characters kept of a string read with str()",
    "str_trunc_trailer": "printed after a string str() filled (it may have been cut); default ..",
    "max_map_keys": "entries each map can hold",
    "max_probes": "probes a script may attach to (wildcards count each match); default 1024",
    "perf_rb_pages": "pages of the event ring buffer (rounded up to a power of two; by "
                     "default 64 where only BEGIN and END print)",
    "log_size": "bytes of verifier log kept when loading fails",
    "print_maps_on_exit": "print every map when the program ends: true or false",
    "missing_probes": "a probe that does not exist: error, warn or ignore",
    "stack_mode": "how stacks print: bpftrace, perf or raw",
    "show_debug_info": "user stacks show each frame's file:line and inlined functions, "
                       "from debug information: true or false (default false)",
    "on_stack_limit": "values up to this many bytes go on the BPF stack, larger ones to a "
                      "per-CPU scratch map",
    "license": "the programs' license: GPL, GPL v2, GPL and additional rights, "
               "Dual BSD/GPL, Dual MIT/GPL or Dual MPL/GPL",
    "dummy_ts_map": "a scalar map whose value tseries() takes as the time (for tests)",
    "unstable_map_decl": "map declarations (let @m = hash(n)): enable, warn (the same) or "
                         "error (refused)",
    "unstable_tseries": "tseries(): enable, warn (the same) or error (refused)",
    "unstable_addr": "the address-of operator (&$x): enable, warn (the same) or error (refused)",
}
DEBUG_VARIABLE = ("PTRACE_DEBUG", "show the traceback of an internal error")
CACHE_VARIABLE = ("PTRACE_NO_CACHE", "1: compile every run and keep no program in the compile "
                  "cache (as --no-cache)")
ENVIRONMENT_NOTE = ("Each setting is also read from BPFTRACE_<KEY>; PTRACE_<KEY> wins when "
                    "both are set. A script's config = { ... } block sets the same keys; "
                    "the environment wins over the script.")

EXAMPLES = (
    ("ptrace -l 'tracepoint:syscalls:*open*'",
     "list the tracepoints of the open system calls"),
    ("ptrace -lv tracepoint:sched:sched_switch",
     "a tracepoint and the fields of its args"),
    ("ptrace -e 'tracepoint:syscalls:sys_enter_execve { printf(\"%s\\n\", "
     "str(args.filename)); }'",
     "print each program started"),
    ("ptrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'",
     "count system calls by process name, until Ctrl-C"),
    ("ptrace -c 'ls /' -e 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ "
     "{ printf(\"%s\\n\", str(args.filename)); }'",
     "the files ls opens"),
    ("ptrace -B line -f json -o out.json script.bt 5",
     "run a script with $1 = 5, writing JSON lines to out.json"),
    ("ptrace -d ir -e 'BEGIN { exit(); }'",
     "show a program's LLVM IR (no root needed)"),
    ("ptrace --info",
     "what this machine's kernel supports"),
)

EXIT_STATUS = (
    ("0", "the program ended normally (or exit() was called without a code)"),
    ("N", "the code given to exit(N)"),
    ("1", "an error the user can fix: a usage, script or kernel error, or no root; "
          "with --test, a test failed"),
    ("2", "an internal error: a bug in ptrace"),
    ("130", "interrupted before the program ran"),
)
DESCRIPTION = (
    "ptrace runs programs written in bpftrace's language: it compiles them to eBPF with "
    "LLVM, loads and attaches them through bcc's libraries, and prints what they gather "
    "the way bpftrace does.",
    "A program is given with -e, in a FILE, on standard input (FILE -) or as a shipped "
    "tool (-t). Loading programs needs root; -d, -l, --info, -h and -V do not.",
)


# ---- parsing ---------------------------------------------------------------------------

class UsageError(Exception):
    """The command line is wrong; the message says how, in argparse's words."""


class FlagError(UsageError):
    """An option that does not exist, or a value it does not take: the usage follows
    the message, as bpftrace shows it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise FlagError(message)

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse's own asks shutil (which imports bz2, lzma, …) for the
        # terminal's width at every option added; ptrace prints its own help.
        return argparse.HelpFormatter(prog=self.prog, width=80)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ptrace", add_help=False, allow_abbrev=False)
    for option in OPTIONS:
        if option.count:
            parser.add_argument(*option.flags, dest=option.dest, action="count", default=0)
        elif not option.takes_value:
            parser.add_argument(*option.flags, dest=option.dest, action="store_true")
        elif option.optional:
            parser.add_argument(*option.flags, dest=option.dest, metavar=option.metavar,
                                nargs="?", const="")
        else:
            # A repeatable option's values may be comma-separated: _values checks them.
            choices = option.choices if option.choices and not option.repeat else None
            parser.add_argument(*option.flags, dest=option.dest, metavar=option.metavar,
                                choices=choices, type=int if option.number else str,
                                action="append" if option.repeat else "store")
    parser.add_argument("args", nargs="*")
    parser.set_defaults(format="text")
    return parser


def dump_stages(names: list[str]) -> tuple[str, ...]:
    """-d's values (repeated or comma-separated, ptrace's names or
    bpftrace's) as ptrace's stages, each once, in the order given ("all" is
    every stage in the compiler's order, then the verifier's log). A name
    ptrace has nothing for is a
    UsageError, an unknown name a FlagError."""
    stages: list[str] = []
    for name in _values("-d", names, STAGE_NAMES):
        if name in NO_SUCH_STAGE:
            raise UsageError(f"-d {name}: {NO_SUCH_STAGE[name]}")
        wanted = (*DUMP_STAGES, VERIFIER_STAGE) if name == "all" \
            else (BPFTRACE_STAGES.get(name, name),)
        stages.extend(stage for stage in wanted if stage not in stages)
    return tuple(stages)


def no_features(names: list[str]) -> tuple[str, ...]:
    """--no-feature's values (repeated or comma-separated), each once; an
    unknown name is a FlagError."""
    return tuple(dict.fromkeys(_values("--no-feature", names, FEATURES)))


def _values(flag: str, values: list[str], choices: tuple[str, ...]) -> list[str]:
    """A repeatable option's values, each split at its commas; FlagError for
    one that is not among `choices`."""
    names = [part for value in values for part in value.split(",")]
    for name in names:
        if name not in choices:
            raise FlagError(f"argument {flag}: invalid choice: '{name}' "
                            f"(choose from {', '.join(choices)})")
    return names


def parse(argv: list[str]) -> argparse.Namespace:
    """Options may come anywhere before `--`; everything after it is an ARG.

    Like getopt's argument permutation in bpftrace: `ptrace script.bt 5 -q` is
    `-q` with $1 = 5, and `ptrace -e '…' -- -1` gives $1 = -1.
    """
    if "--" in argv:
        cut = argv.index("--")
        before, after = argv[:cut], argv[cut + 1:]
    else:
        before, after = argv, []
    args = _parser().parse_intermixed_args(before)
    args.args = [*args.args, *after]
    return args


# ---- rendering -------------------------------------------------------------------------

def _setting_rows() -> list[tuple[str, str, str]]:
    """(variable, default, what it does) for each setting, then PTRACE_NO_CACHE and
    PTRACE_DEBUG."""
    defaults = Options()
    rows = []
    for key in SETTINGS:
        rows.append((f"PTRACE_{key.upper()}", setting_text(defaults, key), SETTING_HELP[key]))
    rows.extend((name, "unset", text) for name, text in (CACHE_VARIABLE, DEBUG_VARIABLE))
    return rows


def usage_text() -> str:
    """The USAGE block that starts `ptrace -h`, also shown after a wrong command line."""
    return "\n".join(["USAGE:", *(f"    ptrace {usage}" for usage in USAGES)]) + "\n"


def help_text() -> str:
    """`ptrace -h`: grouped like bpftrace's usage text."""
    width = max(len(o.synopsis) for o in OPTIONS) + 2
    lines = usage_text().splitlines()
    lines += ["", *_wrap(USAGE_NOTE, "    ")]
    for group in GROUPS:
        lines += ["", f"{group}:"]
        for option in OPTIONS:
            if option.group == group:
                lines += _wrap(option.help, " " * (width + 5), first=f"    {option.synopsis}")
    rows = _setting_rows()
    env_width = max(len(name) for name, _, _ in rows) + 2
    lines += ["", "ENVIRONMENT:"]
    for name, default, what in rows:
        lines += _wrap(f"[default: {default}] {what}", " " * (env_width + 5),
                       first=f"    {name}")
    lines += _wrap(ENVIRONMENT_NOTE, "    ")
    lines += ["", "EXAMPLES:"]
    for command, what in EXAMPLES:
        lines += [command, f"    {what}"]
    return "\n".join(lines) + "\n"


def _wrap(text: str, indent: str, first: str = "", width: int = 88) -> list[str]:
    """Text in lines of at most `width` (a longer word stays whole), each after `indent`;
    the first line starts with `first` padded to the indent instead."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(indent) + len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    head = first.ljust(len(indent) - 1) + " " if first else indent
    return [head + lines[0], *(indent + rest for rest in lines[1:])]


def _roff(text: str) -> str:
    """Text escaped for troff: backslashes and hyphens (so options copy as typed)."""
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + escaped if escaped.startswith((".", "'")) else escaped


def _roff_synopsis(option: Option) -> str:
    flags = ", ".join(f"\\fB{_roff(flag)}\\fR" for flag in option.flags)
    value = option.operand or (f"[{option.metavar}]" if option.optional else option.metavar)
    return flags + (f" \\fI{_roff(value)}\\fR" if value else "")


def man_page() -> str:
    """docs/ptrace.1, in man(7) macros."""
    out = [
        '.\\" Generated by scripts/gen-cli-docs from ptrace/cli_usage.py; do not edit.',
        f'.TH PTRACE 1 "" "ptrace {__version__}" "User Commands"',
        ".SH NAME",
        "ptrace \\- a bpftrace\\-compatible tracing language, in Python",
        ".SH SYNOPSIS",
    ]
    for index, usage in enumerate(USAGES):
        if index:
            out.append(".br")
        out.append(f"\\fBptrace\\fR {_roff(usage)}")
    out.append(".SH DESCRIPTION")
    for paragraph in (*DESCRIPTION, USAGE_NOTE):
        out += [".PP", _roff(paragraph)]
    out.append(".SH OPTIONS")
    for group in GROUPS:
        if group != "OPTIONS":
            out.append(f'.SS "{group.capitalize()}"')
        for option in OPTIONS:
            if option.group == group:
                out += [".TP", _roff_synopsis(option), _roff(option.help[0].upper()
                                                              + option.help[1:]) + "."]
    out.append(".SH ENVIRONMENT")
    for name, default, what in _setting_rows():
        out += [".TP", f"\\fB{_roff(name)}\\fR",
                _roff(f"{what[0].upper()}{what[1:]}. Default: {default}.")]
    out += [".PP", _roff(ENVIRONMENT_NOTE), ".SH EXIT STATUS"]
    for code, what in EXIT_STATUS:
        out += [".TP", f"\\fB{code}\\fR", _roff(what[0].upper() + what[1:]) + "."]
    out.append(".SH EXAMPLES")
    for command, what in EXAMPLES:
        # Unfilled, so that a long command is not stretched to the margin.
        out += [".PP", _roff(what[0].upper() + what[1:]) + ":", ".RS", ".nf",
                f"\\fB{_roff(command)}\\fR", ".fi", ".RE"]
    out += [".SH SEE ALSO", ".BR bpftrace (8)"]
    return "\n".join(out) + "\n"


_COMPLETE_VALUE = {
    "file": 'compgen -f -- "$cur"',
    "pid": 'compgen -W "$(cd /proc && echo [0-9]*)" -- "$cur"',
    "command": 'compgen -c -- "$cur"',
    "tool": 'compgen -W "$("${COMP_WORDS[0]}" -t 2>/dev/null | cut -d" " -f1)" -- "$cur"',
}


def bash_completion() -> str:
    """docs/ptrace.bash-completion: options, their values, then files."""
    flags = " ".join(flag for o in OPTIONS for flag in o.flags)
    cases = []
    for option in OPTIONS:
        if not option.takes_value:
            continue
        pattern = "|".join(option.flags)
        if option.choices:
            command = f"compgen -W '{' '.join(option.choices)}' -- \"$cur\""
        elif option.complete:
            command = _COMPLETE_VALUE[option.complete]
        else:
            cases.append(f"        {pattern}) return ;;")  # free text: nothing to offer
            continue
        cases.append(f"        {pattern}) mapfile -t COMPREPLY < <({command}); return ;;")
    return "\n".join([
        "# bash completion for ptrace(1)",
        "# Generated by scripts/gen-cli-docs from ptrace/cli_usage.py; do not edit.",
        "_ptrace() {",
        '    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}',
        "    COMPREPLY=()",
        '    case $prev in',
        *cases,
        "    esac",
        '    if [[ $cur == -* ]]; then',
        f"        mapfile -t COMPREPLY < <(compgen -W '{flags}' -- \"$cur\")",
        "    else",
        '        mapfile -t COMPREPLY < <(compgen -f -- "$cur")',
        "    fi",
        "}",
        "complete -o filenames -F _ptrace ptrace",
    ]) + "\n"


# The files under docs/ made from the table, by name: scripts/gen-cli-docs
# writes them, scripts/setup installs them, a unit test compares them.
GENERATED = {"ptrace.1": man_page, "ptrace.bash-completion": bash_completion}
