"""Every probe instance → one BPF program, all in one LLVM module."""

from __future__ import annotations

from ptrace.ast import nodes as n
from ptrace.ast.visitor import walk
from ptrace.codegen.bpf_builder import (
    MAP_LOOP_STACK_BUDGET,
    MAP_LOOP_STACK_LIMIT,
    STACK_BUDGET,
    STACK_LIMIT,
    ProgramBuilder,
)
from ptrace.codegen.emit import Emitted, emit, new_module
from ptrace.codegen.lower import Lowerer
from ptrace.diagnostics import Span
from ptrace.passes.allocate_resources import Resources
from ptrace.passes.context import CompileContext
from ptrace.program import NOT_ATTACHED, BpfProgram, ProgType

PROG_TYPES = {
    "begin": ProgType.RAW_TRACEPOINT,
    "end": ProgType.RAW_TRACEPOINT,
    "tracepoint": ProgType.TRACEPOINT,
    "uprobe": ProgType.KPROBE,
    "uretprobe": ProgType.KPROBE,
    "usdt": ProgType.KPROBE,
    "kprobe": ProgType.KPROBE,
    "kretprobe": ProgType.KPROBE,
    "rawtracepoint": ProgType.RAW_TRACEPOINT,
    "fentry": ProgType.TRACING,
    "fexit": ProgType.TRACING,
    "software": ProgType.PERF_EVENT,
    "hardware": ProgType.PERF_EVENT,
    "syscalls": ProgType.RAW_TRACEPOINT,
    "interval": ProgType.PERF_EVENT,
    "profile": ProgType.PERF_EVENT,
    "watchpoint": ProgType.PERF_EVENT,
    "iter": ProgType.TRACING,
    "signal": ProgType.RAW_TRACEPOINT,  # run like BEGIN, when ptrace gets the signal
}
BPF_TRACE_FENTRY = 24  # enum bpf_attach_type
BPF_TRACE_FEXIT = 25
BPF_TRACE_ITER = 28
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
    for instance in ctx.instances:
        name = f"probe_{instance.index}"
        # A for-over-map callback's stack frame adds to its program's.
        callbacks = any(isinstance(node, n.For) and isinstance(node.iterable, n.MapRef)
                        for node in walk(instance.probe))
        pb = ProgramBuilder(module, name, f"ptrace/{name}", res.scratch_map,
                            MAP_LOOP_STACK_BUDGET if callbacks else STACK_BUDGET,
                            stack_limit=MAP_LOOP_STACK_LIMIT if callbacks else STACK_LIMIT)
        Lowerer(ctx, res, instance, pb).lower()
        scratch = max(scratch, pb.scratch_size)
        names.append(name)
    emitted = emit(module, want_asm)
    programs = []
    for instance, name in zip(ctx.instances, names, strict=True):
        kind = instance.attach.kind
        ctx_size = TEST_RUN_CTX_SIZE if kind in NOT_ATTACHED else 0
        loops = tuple(_location(node.span) for node in walk(instance.probe)
                      if isinstance(node, n.While | n.For))
        attach_type = {"fentry": BPF_TRACE_FENTRY, "fexit": BPF_TRACE_FEXIT,
                       "iter": BPF_TRACE_ITER}.get(kind, 0)
        code = emitted.sections[f"ptrace/{name}"]
        programs.append(BpfProgram(name, PROG_TYPES[kind], code.insns, instance.attach,
                                   _location(instance.probe.span), loops, ctx_size, attach_type,
                                   instance.attach.btf_id, code.functions[1:]))
    return programs, emitted, scratch
