"""Every probe instance → one BPF program, all in one LLVM module."""

from __future__ import annotations

from ptrace.ast import nodes as n
from ptrace.ast.visitor import walk
from ptrace.bpf_abi import AttachType
from ptrace.codegen.bpf_builder import (
    MAP_LOOP_STACK_BUDGET,
    MAP_LOOP_STACK_LIMIT,
    STACK_BUDGET,
    STACK_LIMIT,
    ProgramBuilder,
)
from ptrace.codegen.code_size import MAX_INSTRUCTIONS, CodeBudget, CodeTooLarge
from ptrace.codegen.emit import BackendFailure, Emitted, emit, mark_kfunc_calls, new_module
from ptrace.codegen.lower import Lowerer
from ptrace.diagnostics import CompileError, Diagnostic, Severity, Span
from ptrace.passes.allocate_resources import Resources
from ptrace.passes.context import CompileContext
from ptrace.passes.type_rules import is_callback_loop
from ptrace.probe_kinds import KINDS, Runs
from ptrace.program import Attach, BpfProgram

# BEGIN, END and self:signal probes run through BPF_PROG_TEST_RUN with a
# raw-tracepoint ctx of this size.
TEST_RUN_CTX_SIZE = 8


def _location(span: Span) -> str:
    return f"{span.source.name}:{span.line}:{span.col}"


def generate(ctx: CompileContext, res: Resources, want_asm: bool = False
             ) -> tuple[list[BpfProgram], Emitted, int]:
    """The programs, the emitted object, and the scratch map's value size the
    lowering needs (the one figure decided here; see set_scratch_size)."""
    module = new_module(ctx.source.name)
    names: list[str] = []
    scratch = 0
    kfuncs: set[int] = set()
    budget = CodeBudget()
    for instance in ctx.instances:
        name = f"probe_{instance.index}"
        # A loop callback's stack frame adds to its program's.
        callbacks = any(is_callback_loop(node) for node in walk(instance.probe))
        pb = ProgramBuilder(module, name, f"ptrace/{name}", res.scratch_map,
                            MAP_LOOP_STACK_BUDGET if callbacks else STACK_BUDGET,
                            stack_limit=MAP_LOOP_STACK_LIMIT if callbacks else STACK_LIMIT,
                            object_limit=ctx.options.on_stack_limit)
        pb.count_with(budget)
        try:
            Lowerer(ctx, res, instance, pb).lower()
        except CodeTooLarge:
            raise CompileError([too_much_code(instance.probe.span)]) from None
        scratch = max(scratch, pb.scratch_size)
        names.append(name)
        kfuncs |= pb.kfuncs
    try:
        emitted = emit(module, want_asm)
    except BackendFailure as failure:
        raise CompileError([backend_diagnostic(failure, ctx)]) from None
    programs = []
    for instance, name in zip(ctx.instances, names, strict=True):
        row = KINDS[instance.attach.kind]
        ctx_size = TEST_RUN_CTX_SIZE if row.runs == Runs.TEST_RUN else 0
        loops = tuple(_location(node.span) for node in walk(instance.probe)
                      if isinstance(node, n.While | n.For))
        code = emitted.sections[f"ptrace/{name}"]
        programs.append(BpfProgram(name, instance.attach.prog_type,
                                   mark_kfunc_calls(code.insns, kfuncs),
                                   instance.attach,
                                   _location(instance.probe.span), loops, ctx_size,
                                   _expected_attach_type(instance.attach),
                                   instance.attach.btf_id,
                                   code.functions[1:]))
    return programs, emitted, scratch


def _expected_attach_type(attach: Attach) -> int:
    if attach.functions:
        return AttachType.TRACE_UPROBE_MULTI
    if attach.btf_tracepoint:
        return AttachType.TRACE_RAW_TP
    return KINDS[attach.kind].attach_type or 0


def too_much_code(span: Span) -> Diagnostic:
    """The error at the probe whose lowering took the script past MAX_INSTRUCTIONS."""
    return Diagnostic(Severity.ERROR, "the script makes too much code to compile: more than "
                      f"{MAX_INSTRUCTIONS:,} instructions with this probe", span,
                      ("a while or for loop runs its body without copying it (unroll copies "
                       "it); a narrower wildcard makes fewer programs",))


# What LLVM's BPF backend says when it cannot compile a program, in the
# user's words: (a part of its message, what it means, what to do).
BACKEND_FAILURES = (
    ("built-in function 'mem", "it needs more memory filled or copied at once than BPF can do",
     "keep fewer or smaller strings, tuples and map keys in one expression"),
    ("stack limit", "its values need more than the 512 bytes of BPF stack",
     "keep fewer large values (strings, tuples, nested map reads) in one expression, or "
     "spread the work over several probes"),
)


def backend_diagnostic(failure: BackendFailure, ctx: CompileContext) -> Diagnostic:
    """A located diagnostic for a program LLVM could not compile: at the probe
    whose program it names (the first probe when it names none)."""
    index = 0
    if failure.function is not None and failure.function.startswith("probe_"):
        digits = failure.function.removeprefix("probe_").split("_")[0]
        index = int(digits) if digits.isdigit() else 0
    probe = ctx.instances[min(index, len(ctx.instances) - 1)].probe
    for fragment, meaning, hint in BACKEND_FAILURES:
        if fragment in failure.message:
            return Diagnostic(Severity.ERROR, f"this probe cannot be compiled to BPF: {meaning}",
                              probe.span, (hint,))
    return Diagnostic(Severity.ERROR, "this probe cannot be compiled to BPF: LLVM's BPF backend "
                      f"refused it ({failure.message})", probe.span)
