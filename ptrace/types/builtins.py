"""The table of builtin variables: name, type, and the probes that may use them.

Adding a builtin is one row here and one `_builtin_<name>` lowering method in
`ptrace/codegen/lower.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptrace.probe_kinds import ProbeKind
from ptrace.types.types import INT64, UINT32, UINT64, Formatted, Pointer, Str, Type


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    type: Type
    doc: str
    probes: frozenset[ProbeKind] | None = None  # kinds that may use it; None: all


COMM = Str(16)
# x86_64 struct pt_regs, 8 bytes a register, by the names reg() takes (the
# kernel's field names, as bpftrace has them): name → offset.
PT_REGS = {name: 8 * i for i, name in enumerate((
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
    "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"))}
# x86_64: where the first arguments and the return value lie in struct pt_regs.
ARG_REGISTERS = (112, 104, 96, 88, 72, 64)  # di, si, dx, cx, r8, r9
RETVAL_REGISTER = 80  # ax

BUILTINS: dict[str, Builtin] = {b.name: b for b in (
    Builtin("pid", UINT32, "process id (thread group id) of the current task"),
    Builtin("tid", UINT32, "thread id of the current task"),
    Builtin("uid", UINT32, "user id of the current task"),
    Builtin("gid", UINT32, "group id of the current task"),
    Builtin("nsecs", UINT64, "nanoseconds since boot (monotonic clock)"),
    Builtin("elapsed", UINT64, "nanoseconds since ptrace started the script"),
    Builtin("cpu", UINT32, "the CPU the probe runs on"),
    Builtin("comm", COMM, "name of the current task"),
    Builtin("rand", UINT32, "a pseudo-random 32-bit number"),
    Builtin("cgroup", UINT64, "cgroup v2 id of the current task"),
    Builtin("jiffies", UINT64, "jiffies since boot"),
    Builtin("ncpus", UINT64, "how many CPUs were online when the run started"),
    Builtin("curtask", Pointer("struct task_struct"), "address of the current task_struct"),
    *(Builtin(f"arg{i}", UINT64, f"argument {i} of the probed function or tracepoint",
              frozenset({ProbeKind.UPROBE, ProbeKind.KPROBE, ProbeKind.RAWTRACEPOINT}))
      for i in range(len(ARG_REGISTERS))),
    Builtin("retval", INT64, "the probed function's return value",
            frozenset({ProbeKind.URETPROBE, ProbeKind.KRETPROBE, ProbeKind.FEXIT})),
    Builtin("cpid", UINT32, "the pid of the command run with -c"),
    Builtin("username", Formatted("username"), "the current task's user, by name"),
    Builtin("numaid", UINT32, "the NUMA node the probe runs on"),
)}

# `probe` and `probetype` (strings per program) and `args` (typed per probe) are typed
# by the checker itself. These names exist in bpftrace and are lowered later.
LATER_BUILTINS = frozenset({
    "arg6", "arg7", "arg8", "arg9",
    "sarg0", "sarg1", "sarg2", "sarg3", "sarg4", "sarg5",
})
