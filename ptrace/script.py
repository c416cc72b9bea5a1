"""A script compiled for a run, the one way every front end does it: the library
(`ptrace.run`, `ptrace.trace`, `ptrace.compile_script`), the CLI and the REPL.
`compile_script` is the library's and the CLI's; the REPL, whose settings are
kept from cell to cell, calls `compile_program` under it.

`script_options` makes the compiler's Options of what the user gave (the
arguments after the script, settings, the process traced), over the
environment's PTRACE_<KEY> settings; `compile_program` compiles, a script's
errors raised as ScriptError carrying the located diagnostics, which each
front end renders (the CLI and the REPL as `render_all` does, the exception's
text).

Light on purpose: the CLI imports it before it knows whether the compiler is
needed at all (the compiler is imported when a program is compiled).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ptrace.diagnostics import CompileError, Diagnostic, Source, render_all
from ptrace.options import (
    SETTINGS,
    Options,
    SettingError,
    apply_setting,
    from_environment,
    split_params,
)

if TYPE_CHECKING:
    from ptrace.machine import Machine
    from ptrace.program import CompiledProgram


class Error(Exception):
    """Every error of the API: a bad script, a bad setting, a refusal by the machine."""


class ScriptError(Error):
    """The script does not compile. `diagnostics` are the located errors (and the
    warnings that came with them); the text of the exception is as the CLI prints
    them (file:line:col, the line, a marker). `dumps` holds the compiler's stages
    asked for that are shown even so (`-d types`)."""

    def __init__(self, diagnostics: Sequence[Diagnostic], dumps: Mapping[str, str] | None = None):
        self.diagnostics = tuple(diagnostics)
        self.dumps = dict(dumps or {})
        super().__init__(render_all(self.diagnostics))


class RunError(Error):
    """The machine refused the run: not root, no BPF, a load or attach refused."""


for _error in (Error, ScriptError, RunError):  # shown as ptrace.Error in tracebacks
    _error.__module__ = "ptrace"


def script_options(args: Sequence[str | int] = (), *,
                   settings: Mapping[str, int | str | bool] | None = None,
                   unsafe: bool = False, pid: int | None = None, has_command: bool = False,
                   helper_errors: int = 0, debuginfo: Sequence[str] = (),
                   hist_sums: bool = False, includes: Sequence[str] = (),
                   include_dirs: Sequence[str] = (),
                   no_features: Sequence[str] = ()) -> Options:
    """The compiler's options for a run. `args` are what follows the script on the
    command line: positional parameters ($1, …) and getopt()'s `--name[=value]`.
    `settings` (config keys) win over the script's config block, as the
    environment's do. Error for a bad setting (the environment's included)."""
    positional, named = split_params(tuple(str(a) for a in args))
    try:
        options = from_environment(Options(
            params=positional, named_params=named, unsafe=unsafe, helper_errors=helper_errors,
            has_command=has_command or pid is not None, pid=pid or 0,
            debuginfo=tuple(debuginfo), hist_sums=hist_sums, includes=tuple(includes),
            include_dirs=tuple(include_dirs), no_features=tuple(no_features)))
        for key, value in (settings or {}).items():
            if key not in SETTINGS:
                raise SettingError(f"unknown setting {key!r}; the settings are "
                                   f"{', '.join(SETTINGS)}")
            options = apply_setting(options, key, value)
    except SettingError as error:
        raise Error(str(error)) from None
    return replace(options, from_env=options.from_env | frozenset(settings or ()))


def compile_script(source: str | Source, args: Sequence[str | int] = (), *,
                   settings: Mapping[str, int | str | bool] | None = None,
                   unsafe: bool = False, pid: int | None = None, has_command: bool = False,
                   helper_errors: int = 0, debuginfo: Sequence[str] = (),
                   hist_sums: bool = True, dumps: Sequence[str] = (),
                   includes: Sequence[str] = (), include_dirs: Sequence[str] = (),
                   no_features: Sequence[str] = (), cache: bool = True) -> CompiledProgram:
    """Compile a script without running it (no root needed): the program, its
    `warnings` (as the CLI prints them) and the `dumps` asked for ("ast", "types",
    "ir", "ir-opt", "asm") in its `dumps`. ScriptError with the located
    diagnostics when it does not compile, Error for a bad setting. Without
    `cache` (the CLI's --no-cache) the compile cache is neither read nor
    filled. The other arguments are `script_options`' (`ptrace.trace()`'s, and
    the CLI's -k, --debuginfo, --include: headers whose integer macros the
    script may name, -I: directories #include looks in first, and
    --no-feature: kinds of BPF link not to use)."""
    from ptrace.machine import LiveMachine

    if isinstance(source, str):
        source = Source("<script>", source)
    return compile_program(source, script_options(
        args, settings=settings, unsafe=unsafe, pid=pid, has_command=has_command,
        helper_errors=helper_errors, debuginfo=debuginfo, hist_sums=hist_sums,
        includes=includes, include_dirs=include_dirs, no_features=no_features),
        # The compile cache is only the compile without a machine's.
        machine=None if cache else LiveMachine(), dumps=tuple(dumps))


def compile_program(source: Source, options: Options, machine: Machine | None = None,
                    dumps: tuple[str, ...] = ()) -> CompiledProgram:
    """The script compiled (with the `dumps` stages asked for: "ast", "ir", …);
    ScriptError with the located diagnostics when it does not compile."""
    from ptrace.compile import compile

    try:
        return compile(source, options, machine, dumps)
    except CompileError as error:
        raise ScriptError(error.diagnostics, error.dumps) from None
