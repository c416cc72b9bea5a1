"""`compile(source, options) -> CompiledProgram`: the compiler's one entry point.

Pure: it needs no root and changes nothing in the kernel. What it needs to
know about the machine comes from a `Machine` (tracefs by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ptrace.ast import recursion_room
from ptrace.diagnostics import CompileError, Severity, Source, render_capped
from ptrace.machine import LiveMachine, Machine
from ptrace.options import Options

if TYPE_CHECKING:
    from ptrace.passes.allocate_resources import Resources
    from ptrace.passes.context import CompileContext
    from ptrace.program import CompiledProgram, PrintfFormat

DUMP_STAGES = ("ast", "types", "ir", "ir-opt", "asm")


def passes() -> tuple[Callable[[CompileContext], None], ...]:
    """The passes between parsing and codegen, in order. The driver stops after
    the first pass that reports an error. (Imported here, not at the top: a
    program found in the compile cache imports no pass.)"""
    from ptrace.passes.apply_config import apply_config
    from ptrace.passes.check_types import check_types
    from ptrace.passes.define_types import define_types
    from ptrace.passes.expand_macros import expand_macros
    from ptrace.passes.expand_probes import expand_probes
    from ptrace.passes.import_scripts import import_scripts

    return (
        import_scripts,
        expand_macros,
        apply_config,
        define_types,
        expand_probes,
        check_types,
    )


def __getattr__(name: str) -> tuple[Callable[[CompileContext], None], ...]:
    if name == "PASSES":  # `from ptrace.compile import PASSES`, as before
        return passes()
    raise AttributeError(f"module 'ptrace.compile' has no attribute {name!r}")


def compile(source: Source, options: Options | None = None, machine: Machine | None = None,
            dumps: tuple[str, ...] = ()) -> CompiledProgram:
    """Compile a script. Raises CompileError with diagnostics for user errors.

    Without a machine (the live one) and dumps, the program comes from the
    compile cache where it holds (ptrace/program_cache.py)."""
    options = options or Options()
    if machine is None and not dumps:
        from ptrace.program_cache import cached_compile

        return cached_compile(source, options, lambda live: _compile(source, options, live, ()))
    return _compile(source, options, machine or LiveMachine(), dumps)


def _compile(source: Source, options: Options, machine: Machine,
             dumps: tuple[str, ...]) -> CompiledProgram:
    # The parser refuses trees deeper than its MAX_DEPTH; the passes' recursion
    # over the trees it accepts fits in the room it makes.
    with recursion_room():
        return _run_passes(source, options, machine, dumps)


def _run_passes(source: Source, options: Options, machine: Machine,
                dumps: tuple[str, ...]) -> CompiledProgram:
    from ptrace.parse import parse_program
    from ptrace.parse.preprocess import PredefinedNames
    from ptrace.passes.allocate_resources import allocate_resources, set_scratch_size
    from ptrace.passes.check_types import check_types
    from ptrace.passes.context import CompileContext
    from ptrace.program import CompiledProgram

    program = parse_program(source, PredefinedNames(lambda: machine.btf() is not None),
                            options.max_probes if options.missing_probes == "error" else None)
    ctx = CompileContext(source, options, machine, program)
    texts: dict[str, str] = {}
    if "ast" in dumps:
        from ptrace.ast.dump import dump

        texts["ast"] = dump(program)
    # -d types is made as soon as the checker has run, and shown even when it
    # reported errors: what it typed explains an error that surprises.
    typed: dict[str, str] = {}
    for run_pass in passes():
        run_pass(ctx)
        if run_pass is check_types and "types" in dumps:
            from ptrace.passes.dump_types import dump_types

            typed["types"] = dump_types(ctx)
        if ctx.reporter.has_errors:
            raise CompileError(ctx.reporter.diagnostics, typed)
    resources = allocate_resources(ctx)
    if ctx.reporter.has_errors:
        raise CompileError(ctx.reporter.diagnostics, typed)
    texts.update(typed)

    from ptrace.codegen.generate import generate  # llvmlite: imported only to compile

    programs, emitted, scratch_size = generate(ctx, resources, want_asm="asm" in dumps)
    set_scratch_size(resources, scratch_size)
    texts.update({"ir": emitted.ir_text, "ir-opt": emitted.ir_optimized, "asm": emitted.asm})
    return CompiledProgram(
        programs=tuple(programs),
        maps=tuple(resources.maps),
        ringbuf_map=resources.ringbuf_map,
        counters_map=resources.counters_map,
        globals_map=resources.globals_map,
        printf_formats=tuple(_printf_formats(resources)),
        print_sites=tuple(resources.print_sites),
        user_maps=tuple(resources.user_maps),
        stack_maps=tuple(resources.stack_maps.items()),
        dumps={k: v for k, v in texts.items() if k in dumps},
        print_maps_on_exit=ctx.options.print_maps_on_exit,
        log_size=ctx.options.log_size,
        show_debug_info=ctx.options.show_debug_info,
        debug_dirs=ctx.options.debuginfo,
        license=ctx.options.license,
        warnings=tuple(render_capped(d for d in ctx.reporter.diagnostics
                                     if d.severity is Severity.WARNING)),
    )


def _printf_formats(resources: Resources) -> list[PrintfFormat]:
    from ptrace.program import PrintfFormat

    return [PrintfFormat(site.kind, site.segments, layout.args, site.location, site.context)
            for site, layout in zip(resources.printf_sites, resources.printf_layouts,
                                    strict=True)]
