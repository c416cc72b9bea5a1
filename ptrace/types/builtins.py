"""The table of builtins: one row per builtin variable (`pid`, `comm`, `args`, …)
and per builtin function (`printf`, `str`, `count`, …).

A row gives the name, the arguments a function takes, the probe kinds that
may use it, whether it is an aggregation, and a one-line doc (the REPL's
completion shows it). The parser, the checker, the lowering and the REPL read
their names here and nowhere else.

Adding a builtin is a row here, a method of the checker
(`ptrace/passes/check_builtins.py`: `call_<name>`, or `builtin_<name>` for a
variable without a fixed type) and one of the lowering
(`ptrace/codegen/lower_builtins.py`: `call_<name>` or `builtin_<name>`;
`aggregate_<name>` in `lower_aggregations.py`); tests/unit/test_builtins.py
fails while one of them is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptrace.bpf_abi import ProgType
from ptrace.probe_kinds import KINDS, ProbeKind
from ptrace.types.types import BOOL, UINT32, UINT64, FormatKind, Formatted, Int, Str, Type

# x86_64 struct pt_regs, 8 bytes a register, by the names reg() takes (the
# kernel's field names, as bpftrace has them): name → offset.
PT_REGS = {name: 8 * i for i, name in enumerate((
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
    "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"))}
# What reg() reads: the registers of pt_regs, and "pc", bpftrace's name for
# the program counter on every architecture (ip here).
REG_NAMES = {**PT_REGS, "pc": PT_REGS["ip"]}
# x86_64: where the first arguments and the return value lie in struct pt_regs.
ARG_REGISTERS = (112, 104, 96, 88, 72, 64)  # di, si, dx, cx, r8, r9
RETVAL_REGISTER = 80  # ax

# Kinds by what their rows say: those whose context holds the probed code's
# registers, those in a user process, and those that probe a function.
REGISTER_PROBES = tuple(kind for kind, row in KINDS.items() if row.registers)
USER_PROBES = tuple(kind for kind, row in KINDS.items() if row.user_space)
FUNCTION_PROBES = tuple(kind for kind, row in KINDS.items() if row.function)
# Those whose programs are BTF-typed (TRACING): and raw tracepoints, attached
# as BTF tracepoints where the kernel's BTF types the event.
BTF_PROGRAMS = (*(kind for kind, row in KINDS.items() if row.prog_type == ProgType.TRACING),
                ProbeKind.RAWTRACEPOINT)


@dataclass(frozen=True, slots=True)
class Where:
    """The probe kinds (attach kinds) that may use a builtin, and what a script
    using it elsewhere is told besides: why (after the refusal) and a hint."""

    kinds: tuple[ProbeKind, ...]
    why: str = ""
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Variable:
    """A builtin variable. Its type is the row's, or (type None) the one the
    checker's `builtin_<method>` gives in each probe."""

    name: str
    doc: str
    type: Type | None = None
    where: Where | None = None  # None: every probe
    method: str = ""  # its methods are builtin_<method> ("": the name), as arg0's builtin_arg

    @property
    def method_name(self) -> str:
        """The name of its checker's and its lowering's method."""
        return "builtin_" + (self.method or self.name)


@dataclass(frozen=True, slots=True)
class Function:
    """A builtin function. `params` names its arguments: a name ending in "?"
    may be left out, "..." stands for any number more (after a format)."""

    name: str
    params: tuple[str, ...]
    doc: str
    where: Where | None = None  # None: every probe
    aggregation: bool = False  # assigned to a map: @m = count()
    unsafe: str = ""  # what it does that needs --unsafe ("runs commands")

    @property
    def low(self) -> int:
        return sum(1 for p in self.params if not p.endswith("?") and p != "...")

    @property
    def high(self) -> int | None:
        return None if "..." in self.params else len(self.params)

    def arity_error(self, count: int) -> str | None:
        """What is wrong with a call of `count` arguments, or None."""
        high = self.high
        if self.low <= count and (high is None or count <= high):
            return None
        if high is None:  # printf and its kin: only the format is needed
            return f"{self.name}() needs a format string"
        want = str(self.low) if self.low == high else f"{self.low} to {high}"
        return f"{self.name}() takes {want} argument{'s' if high != 1 else ''}, got {count}"


def _listing(kinds: tuple[ProbeKind, ...]) -> str:
    names = [KINDS[kind].name for kind in kinds]
    return ", ".join(names[:-1]) + f" and {names[-1]}"


VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("pid", "process id (thread group id) of the current task", UINT32),
    Variable("tid", "thread id of the current task", UINT32),
    Variable("uid", "user id of the current task", UINT32),
    Variable("gid", "group id of the current task", UINT32),
    Variable("nsecs", "nanoseconds since boot, time suspended included", UINT64),
    Variable("elapsed", "nanoseconds since ptrace started the script", UINT64),
    Variable("cpu", "the CPU the probe runs on", UINT32),
    Variable("comm", "name of the current task", Str(16)),
    Variable("rand", "a pseudo-random 32-bit number", UINT32),
    Variable("cgroup", "cgroup v2 id of the current task", UINT64),
    Variable("jiffies", "jiffies since boot", UINT64),
    Variable("ncpus", "how many CPUs were online when the run started", UINT64),
    Variable("curtask", "address of the current task_struct"),
    *(Variable(f"arg{i}", f"argument {i} of the probed function or tracepoint", UINT64,
               Where((ProbeKind.UPROBE, ProbeKind.KPROBE, ProbeKind.RAWTRACEPOINT)), method="arg")
      for i in range(len(ARG_REGISTERS))),
    Variable("retval", "the probed function's return value",
             where=Where((ProbeKind.URETPROBE, ProbeKind.KRETPROBE, ProbeKind.FEXIT))),
    Variable("cpid", "the pid of the command run with -c (0 without -c)"),
    Variable("has_cpid", "true when a command runs with -c", BOOL),
    Variable("username", "the current task's user, by name", Formatted(FormatKind.USERNAME)),
    Variable("numaid", "the NUMA node the probe runs on", UINT32),
    Variable("probe", "the probe's full name"),
    Variable("probetype", "the probe's provider (special for BEGIN, END and self)"),
    Variable("func", "the probed function's name", where=Where(FUNCTION_PROBES)),
    Variable("args", "the probe's arguments: args.name, or all of them as a record"),
    Variable("ctx", "the address of the probe's context"),
    Variable("kstack", "the kernel stack"),
    Variable("ustack", "the user stack"),
    Variable("ppid", "process id of the current task's parent", method="task_field"),
    Variable("pcomm", "name of the current task's parent process", method="task_field"),
    Variable("leader_tid", "thread id of the current task's thread group leader",
             method="task_field"),
    Variable("leader_comm", "name of the current task's thread group leader",
             method="task_field"),
    Variable("config", "the settings the program was compiled with, as a record "
                       "(config().max_strlen)"),
    Variable("usermode", "1 when the probed code ran in user mode, else 0", Int(8, False),
             Where((*REGISTER_PROBES, ProbeKind.BEGIN, ProbeKind.END),
                   "it has no registers to tell")),
)}

# Builtins that read fields of a task: the fields from the task (curtask, or the
# function's argument) and the type of the value (None: the field's own).
TASK_FIELDS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "ppid": (("real_parent", "tgid"), "uint32"),
    "pcomm": (("real_parent", "comm"), None),
    "leader_tid": (("group_leader", "pid"), "uint32"),
    "leader_comm": (("group_leader", "comm"), None),
}
# The clocks of nsecs(clock), and the namespaces of pid(ns) and tid(ns).
CLOCKS = ("boot", "monotonic", "tai", "sw_tai")
# The kernel functions comm(pid) calls (Linux 6.1), and what it gives for a pid
# with no task.
TASK_FROM_PID, TASK_RELEASE = "bpf_task_from_pid", "bpf_task_release"
UNKNOWN_COMM = "[Unknown]"
PID_NAMESPACES = ("curr_ns", "init")
BUILTIN_PREFIX = "__builtin_"


def builtin_name(name: str) -> str:
    """`__builtin_comm` is `comm`: bpftrace's names of its builtins under their macros."""
    rest = name.removeprefix(BUILTIN_PREFIX)
    return rest if rest != name and (rest in VARIABLES or rest in FUNCTIONS) else name

_FORMAT = ("fmt", "...")
FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("printf", _FORMAT, "print formatted text"),
    Function("print", ("value", "top?", "div?"),
             "print a map now (its top entries, values divided by div), or a value"),
    Function("exit", ("code?",), "stop the program"),
    Function("assert", ("cond", "msg"),
             "unless cond holds: an error naming msg, and stop the program with code 1"),
    Function("delete", ("map", "key?"), "remove a map's entry; true if there was one"),
    Function("clear", ("map",), "remove every entry of a map"),
    Function("zero", ("map",), "set every value of a map to zero"),
    Function("str", ("addr", "length?"), "the string at an address"),
    Function("errorf", _FORMAT, "print an error with the call's location, and go on"),
    Function("fail", _FORMAT, "refuse the script with this message where the call is "
             "reached: not in a branch whose condition is known to be false"),
    Function("static_assert", ("cond", "msg"), "refuse the script with msg unless cond, "
             "known when compiling, holds"),
    Function("warnf", _FORMAT, "print a warning with the call's location"),
    Function("debugf", _FORMAT, "print to the kernel's trace buffer (bpf_trace_printk)"),
    Function("system", _FORMAT, "run a shell command", unsafe="runs commands"),
    Function("time", ("fmt?",), "print the local time"),
    Function("strlen", ("s",), "a string's length"),
    Function("memcmp", ("left", "right", "n"), "0 when the first n bytes of two strings or "
             "arrays agree, else the difference of the first bytes that differ"),
    Function("kfunc_exist", ("name",), "whether the kernel's BTF has a function of that name "
             "(a kfunc), known when compiling"),
    Function("strcap", ("s",), "a string's or an array's capacity, known when compiling"),
    *(Function(f"is_{what}", ("value",), f"whether the value is {doc}, known when compiling")
      for what, doc in (("array", "an array"), ("integer", "an integer"),
                        ("unsigned_integer", "an unsigned integer"), ("ptr", "a pointer"),
                        ("str", "a string"), ("literal", "written as a literal"))),
    Function("strncmp", ("a", "b", "n"), "0 when the first n bytes of two strings agree"),
    Function("strcontains", ("s", "needle"), "whether a string contains another"),
    Function("globmatch", ("s", "pattern"), "whether a whole string matches a glob pattern "
             "(a literal): * ? [abc] [a-z] [!abc]"),
    Function("strstr", ("haystack", "needle"), "the index of a string's first occurrence in "
             "another, -1 if none"),
    Function("bswap", ("n",), "an integer with its bytes reversed"),
    Function("strerror", ("errno",), "an error number, printed as its text"),
    Function("syscall_name", ("nr",), "a system call number, printed as the call's name"),
    Function("signal_name", ("sig",), "a signal number, printed as the signal's name"),
    Function("nsecs", ("clock?",), "nanoseconds on a clock: boot (default), monotonic, tai, "
                                   "sw_tai"),
    Function("pid", ("ns?",), "the process id, in ptrace's pid namespace (curr_ns) or the "
                              "first (init)"),
    Function("tid", ("ns?",), "the thread id, in ptrace's pid namespace (curr_ns) or the "
                              "first (init)"),
    Function("ppid", ("task?",), "the process id of a task's parent"),
    Function("comm", ("pid?",), "the name of the current thread, or of the process of a pid"),
    Function("pcomm", ("task?",), "the name of a task's parent process"),
    Function("leader_tid", ("task?",), "the thread id of a task's thread group leader"),
    Function("leader_comm", ("task?",), "the name of a task's thread group leader"),
    Function("strftime", ("fmt", "ns"), "nanoseconds since boot, printed as a local time"),
    Function("has_key", ("map", "key"), "whether a map holds a key"),
    Function("find", ("map", "key", "variable"), "whether a map holds a key; if so the "
             "variable takes its value"),
    Function("signal", ("sig",), "send a signal to the current process", unsafe="sends signals"),
    Function("signal_thread", ("sig",), "send a signal to the current thread",
             unsafe="sends signals"),
    Function("kstack", ("mode?", "limit?"), "the kernel stack (mode, frames)"),
    Function("ustack", ("mode?", "limit?"), "the user stack (mode, frames)"),
    Function("ksym", ("addr",), "the kernel function at an address"),
    Function("kptr", ("p",), "an address, read as kernel memory"),
    Function("uptr", ("p",), "an address, read as user memory"),
    Function("container_of", ("ptr", "type", "member"),
             "the struct (typeof(struct s)) whose field member is at ptr"),
    Function("ntop", ("af?", "addr"), "an IP address as text"),
    Function("pton", ("addr",), "an IP address literal as its bytes"),
    Function("macaddr", ("p",), "six bytes, printed as a MAC address"),
    Function("len", ("map",), "how many entries a map holds"),
    Function("kaddr", ("symbol",), "the address of a kernel symbol"),
    Function("getopt", ("name", "default?", "description?"),
             "a program option given after the program: -- --name=value"),
    Function("percpu_kaddr", ("symbol", "cpu?"),
             "the address of a kernel per-CPU variable on a CPU (this one by default)"),
    Function("socket_cookie", ("sk",), "the kernel's cookie of a socket (struct sock *)",
             Where(BTF_PROGRAMS, "the kernel gives bpf_get_socket_cookie() to BTF-typed "
                                 "programs only",
                   "socket_cookie() can be used in fentry, fexit, iter and rawtracepoint "
                   "probes")),
    Function("skboutput", ("path", "skb", "length", "offset"),
             "write a packet's bytes (offset to offset + length) to a pcap file",
             Where(BTF_PROGRAMS, "the kernel gives bpf_skb_output() to BTF-typed programs only",
                   "skboutput() can be used in fentry, fexit, iter and rawtracepoint probes")),
    Function("unwatch", ("addr",), "stop watching an address (of a watchpoint:FUNC+argN)"),
    Function("cgroupid", ("path",), "the id of a cgroup v2 directory"),
    Function("cgroup_path", ("id", "filter?"), "the paths of a cgroup"),
    Function("buf", ("p", "length?"), "bytes at an address, or of an array, for %r"),
    Function("cat", _FORMAT, "print the contents of a file"),
    Function("join", ("argv", "sep?"), "print a NULL-terminated array of strings"),
    Function("usym", ("addr",), "the user-space function at an address"),
    Function("uaddr", ("symbol",), "the address of a symbol of the probed binary",
             Where(USER_PROBES, hint="it gives an address in the binary of a uprobe, uretprobe "
                                     "or usdt probe")),
    Function("reg", ("name",), "a register of the probed code",
             Where(REGISTER_PROBES, "they have no registers",
                   f"reg() reads the registers in {_listing(REGISTER_PROBES)} probes")),
    Function("count", (), "count events", aggregation=True),
    Function("sum", ("n",), "the sum of the values", aggregation=True),
    Function("avg", ("n",), "the average of the values", aggregation=True),
    Function("min", ("n",), "the smallest value", aggregation=True),
    Function("max", ("n",), "the largest value", aggregation=True),
    Function("stats", ("n",), "count, average and total of the values", aggregation=True),
    Function("hist", ("n", "k?"), "a power-of-two histogram", aggregation=True),
    Function("lhist", ("n", "min", "max", "step"), "a linear histogram", aggregation=True),
    Function("tseries", ("n", "interval", "intervals", "agg?"),
             "the last value (or avg, max, min, sum) of each recent interval", aggregation=True),
)}
AGGREGATIONS = frozenset(f.name for f in FUNCTIONS.values() if f.aggregation)

# Builtins of bpftrace that ptrace does not have yet: a script using one is told so.
LATER_VARIABLES = frozenset({
    "arg6", "arg7", "arg8", "arg9",
    "sarg0", "sarg1", "sarg2", "sarg3", "sarg4", "sarg5",
})
LATER_FUNCTIONS = frozenset({
    "override", "path", "kfunc_allowed",
    "print_map",
})
