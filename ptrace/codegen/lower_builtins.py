"""Builtin lowering: the IR of each builtin variable (`builtin_<name>`) and
of each call of a builtin function (`call_<name>`), one method per row of
the builtin table (`ptrace.types.builtins`; aggregations are lowered in
`lower_aggregations.py`).

`BuiltinLowering` is a part of the lowering visitor (`lower.Lowerer`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from ptrace.ast import nodes as n
from ptrace.codegen.bpf_builder import I8, I32, I64, PTR, ProgramBuilder, i64
from ptrace.codegen.helpers import (
    BPF_F_CURRENT_CPU,
    BPF_F_USER_STACK,
    Helper,
    read_helper,
    read_str_helper,
)
from ptrace.passes.probe_context import func_name, pointer_argument, probe_builtin, probe_type
from ptrace.passes.type_rules import constant_integer, param_text
from ptrace.probe_kinds import KINDS, Args, ProbeKind
from ptrace.program import (
    EVENT_HEADER_SIZE,
    EXIT_CODE,
    GLOBAL_CPID,
    GLOBAL_ITER_EXIT,
    GLOBAL_ONLINE_CPUS,
    GLOBAL_START_NS,
    GLOBAL_STOPPED,
    GLOBAL_TAI_OFFSET,
    PACKET_HEADER,
    SKB_OUTPUT_MAX,
    WATCHED_ADDRESS,
    EventKind,
)
from ptrace.types import types as t
from ptrace.types.builtins import (
    ARG_REGISTERS,
    PT_REGS,
    REG_NAMES,
    RETVAL_REGISTER,
    TASK_FROM_PID,
    TASK_RELEASE,
    UNKNOWN_COMM,
    VARIABLES,
)
from ptrace.types.glob import ALL, STAR, byte_ranges, glob_tokens

if TYPE_CHECKING:
    from ptrace.passes.allocate_resources import Resources
    from ptrace.passes.context import CompileContext, ProbeInstance, TypeResults
    from ptrace.types.btf import Btf

AF_INET, AF_INET6 = 2, 10


def btf_func(btf: Btf, name: str) -> int:
    """The BTF id of a kernel function the checker found."""
    found = btf.find(name, "func")
    assert found is not None
    return found


class BuiltinLowering:
    """The lowering's methods for builtin variables and calls."""

    if TYPE_CHECKING:  # the rest of the lowering, which these methods use
        ctx: CompileContext
        checked: TypeResults
        res: Resources
        instance: ProbeInstance
        pb: ProgramBuilder
        b: ir.IRBuilder
        probe_name: ir.Value | None
        exit_block: ir.Block

        def expr(self, e: n.Expr) -> ir.Value: ...
        def type_of(self, e: n.Expr) -> t.Type: ...
        def truth(self, e: n.Expr) -> ir.Value: ...
        def string_constant(self, text: str, capacity: int | None = None) -> ir.Value: ...
        def bytes_constant(self, data: bytes) -> ir.Value: ...
        def fit(self, value: ir.Value, dtype: t.Type) -> ir.Value: ...
        def map_key(self, access: n.MapAccess, extra: int = 0) -> ir.Value: ...
        def global_value(self, slot: int) -> ir.Value: ...
        def ctx_argument(self, index: int, atype: t.Type) -> ir.Value: ...
        def args_record(self, rtype: t.Type) -> ir.Value: ...
        def check_helper(self, ret: ir.Value, helper: Helper, level: int,
                         expected: int | None = None) -> None: ...
        def emit_event(self, kind: EventKind, site: int, size: int,
                       fields: list[tuple[int, t.Type, ir.Value, t.Type]]) -> None: ...
        def emit_record(self, kind: EventKind, site: int, size: int,
                        fill: Callable[[ir.Value], None]) -> None: ...

    # ---- variables ----
    def expr_Identifier(self, e: n.Identifier) -> ir.Value:
        """A builtin variable, by its row's method; else an enumerator, whose
        value the checker found."""
        if self.instance.attach.kind == ProbeKind.USDT and e.name.startswith("arg") \
                and e.name[3:].isdigit():
            return self.usdt_arg(int(e.name[3:]))
        row = VARIABLES.get(e.name)
        if row is None:
            return i64(self.checked.enum_values[e])
        method: Callable[[n.Identifier], ir.Value] = getattr(self, row.method_name)
        return method(e)

    def builtin_pid(self, e: n.Identifier) -> ir.Value:
        return self.current_pid()

    def current_pid(self) -> ir.Value:
        """The current task's process id (its thread group id), in ptrace's pid
        namespace."""
        return self.task_id(32, False)

    def task_id(self, shift: int, init: bool) -> ir.Value:
        """The process id (shift 32) or thread id (0) of the current task. In
        ptrace's pid namespace when that is not the first (0 for a task it
        cannot see), as bpf_pidns_info {u32 pid; u32 tgid} gives them."""
        namespace = self.ctx.options.pid_namespace
        if init or not namespace:
            pid_tgid = self.pb.helper(Helper.GET_CURRENT_PID_TGID, I64, [])
            return self.b.and_(self.b.lshr(pid_tgid, i64(shift)), i64(0xFFFFFFFF))
        device, inode = namespace
        info = self.pb.fresh_memory(8)
        self.pb.helper(Helper.GET_NS_CURRENT_PID_TGID, I64,
                       [i64(device), i64(inode), info, i64(8)])
        return self.b.and_(self.b.lshr(self.pb.load64(info), i64(shift)), i64(0xFFFFFFFF))

    def call_pid(self, e: n.Call) -> ir.Value:
        """pid(ns), tid(ns): in ptrace's pid namespace (curr_ns, the default) or
        the first (init)."""
        init = bool(e.args) and isinstance(e.args[0], n.Identifier) and e.args[0].name == "init"
        return self.task_id(32 if e.name == "pid" else 0, init)

    call_tid = call_pid

    def builtin_task_field(self, e: n.Identifier) -> ir.Value:
        return self.expr(self.checked.expansions[e])

    builtin_config = builtin_task_field

    def call_ppid(self, e: n.Call) -> ir.Value:
        return self.expr(self.checked.expansions[e])

    call_pcomm = call_leader_tid = call_leader_comm = call_ppid

    def call_static_assert(self, e: n.Call) -> ir.Value:
        """Checked when compiling: nothing runs."""
        return i64(0)

    call_fail = call_static_assert
    call_strcap = call_is_array = call_is_integer = call_is_unsigned_integer = call_ppid
    call_is_ptr = call_is_str = call_is_literal = call_find = call_kfunc_exist = call_ppid
    call_container_of = call_ppid

    def call_nsecs(self, e: n.Call) -> ir.Value:
        clock = e.args[0].name if e.args and isinstance(e.args[0], n.Identifier) else "boot"
        if clock == "sw_tai":
            return self.sw_tai_ns()
        helper = {"boot": Helper.KTIME_GET_BOOT_NS, "monotonic": Helper.KTIME_GET_NS,
                  "tai": Helper.KTIME_GET_TAI_NS}[clock]
        return self.pb.helper(helper, I64, [])

    def builtin_usermode(self, e: n.Identifier) -> ir.Value:
        """x86_64: the privilege level in the code segment of the probed code's
        registers is 3; BEGIN and END run in ptrace's own call, from user mode."""
        if not KINDS[self.instance.attach.kind].registers:
            return i64(1)
        cs = self.pb.ctx_load(PT_REGS["cs"])
        return self.b.zext(self.b.icmp_unsigned("==", self.b.and_(cs, i64(3)), i64(3)), I64)

    def call_syscall_name(self, e: n.Call) -> ir.Value:
        return self.expr(e.args[0])

    call_signal_name = call_syscall_name

    def builtin_tid(self, e: n.Expr) -> ir.Value:
        return self.task_id(0, False)

    def builtin_uid(self, e: n.Identifier) -> ir.Value:
        return self.b.and_(self.pb.helper(Helper.GET_CURRENT_UID_GID, I64, []), i64(0xFFFFFFFF))

    def builtin_username(self, e: n.Identifier) -> ir.Value:
        return self.builtin_uid(e)  # named in user space

    def builtin_numaid(self, e: n.Identifier) -> ir.Value:
        return self.pb.helper(Helper.GET_NUMA_NODE_ID, I64, [])

    def builtin_gid(self, e: n.Identifier) -> ir.Value:
        return self.b.lshr(self.pb.helper(Helper.GET_CURRENT_UID_GID, I64, []), i64(32))

    def builtin_nsecs(self, e: n.Identifier) -> ir.Value:
        """Nanoseconds since boot, time suspended included (CLOCK_BOOTTIME), as bpftrace."""
        return self.pb.helper(Helper.KTIME_GET_BOOT_NS, I64, [])

    def sw_tai_ns(self) -> ir.Value:
        """TAI time in ns: the boot clock plus the offset the runtime measured."""
        boot = self.pb.helper(Helper.KTIME_GET_BOOT_NS, I64, [])
        return self.b.add(boot, self.global_value(GLOBAL_TAI_OFFSET))

    def builtin_elapsed(self, e: n.Identifier) -> ir.Value:
        now = self.pb.helper(Helper.KTIME_GET_NS, I64, [])
        return self.b.sub(now, self.global_value(GLOBAL_START_NS))

    def builtin_cpu(self, e: n.Identifier) -> ir.Value:
        cpu = self.pb.helper(Helper.GET_SMP_PROCESSOR_ID, I64, [])
        return self.b.and_(cpu, i64(0xFFFFFFFF))

    def builtin_comm(self, e: n.Expr) -> ir.Value:
        mem = self.pb.fresh_memory(16)
        self.pb.helper(Helper.GET_CURRENT_COMM, I64, [mem, i64(16)])
        return mem

    def call_comm(self, e: n.Call) -> ir.Value:
        """comm(pid): the task of the pid taken with bpf_task_from_pid(), its comm
        read and the task released; "[Unknown]" where there is none."""
        if not e.args:
            return self.builtin_comm(e)
        pid = self.b.trunc(self.expr(e.args[0]), I32)
        btf = self.ctx.machine.btf()
        assert btf is not None  # the checker found the functions
        task_struct = btf.find("task_struct", "struct")
        comm = btf.member(task_struct, "comm") if task_struct is not None else None
        assert comm is not None
        task = self.pb.kfunc(btf_func(btf, TASK_FROM_PID), PTR, [pid])
        mem = self.pb.fresh_memory(16)
        found, missing, done = self.pb.if_nonnull(task, "comm")
        self.b.position_at_end(found)
        self.pb.helper(Helper.PROBE_READ_KERNEL, I64,
                       [mem, i64(16), self.pb.offset(task, comm.offset)])
        self.pb.kfunc(btf_func(btf, TASK_RELEASE), ir.VoidType(), [task])
        self.b.branch(done)
        self.b.position_at_end(missing)
        self.pb.store_bytes(UNKNOWN_COMM.encode().ljust(16, b"\0"), mem)
        self.b.branch(done)
        self.b.position_at_end(done)
        return mem

    def call_debugf(self, e: n.Call) -> ir.Value:
        """bpf_trace_vprintk(fmt, size, args, 8 * count): each argument a u64, a
        string's the address of its bytes."""
        fmt = e.args[0]
        assert isinstance(fmt, n.String)
        args = e.args[1:]
        data = self.pb.fresh_memory(8 * max(len(args), 1))
        for index, arg in enumerate(args):
            value = self.expr(arg)
            atype = self.type_of(arg)
            if isinstance(atype, t.Str):
                value = self.b.ptrtoint(value, I64)
            self.pb.store64(self.fit(value, atype), data, 8 * index)
        text = fmt.value.encode("latin-1") + b"\0"
        self.pb.helper(Helper.TRACE_VPRINTK, I64, [self.bytes_constant(text), i64(len(text)),
                                                   data, i64(8 * len(args))])
        return i64(0)

    def builtin_rand(self, e: n.Identifier) -> ir.Value:
        value = self.pb.helper(Helper.GET_PRANDOM_U32, I64, [])
        return self.b.and_(value, i64(0xFFFFFFFF))

    def builtin_cgroup(self, e: n.Identifier) -> ir.Value:
        return self.pb.helper(Helper.GET_CURRENT_CGROUP_ID, I64, [])

    def builtin_jiffies(self, e: n.Identifier) -> ir.Value:
        return self.pb.helper(Helper.JIFFIES64, I64, [])

    def builtin_ctx(self, e: n.Identifier) -> ir.Value:  # its address (typed by the checker)
        return self.b.ptrtoint(self.pb.ctx, I64)

    def builtin_curtask(self, e: n.Identifier) -> ir.Value:
        return self.pb.helper(Helper.GET_CURRENT_TASK, I64, [])

    def builtin_ncpus(self, e: n.Identifier) -> ir.Value:
        return self.global_value(GLOBAL_ONLINE_CPUS)

    def builtin_cpid(self, e: n.Identifier) -> ir.Value:
        return self.global_value(GLOBAL_CPID)

    def builtin_has_cpid(self, e: n.Identifier) -> ir.Value:
        return i64(int(self.ctx.options.has_command))

    def builtin_retval(self, e: n.Identifier) -> ir.Value:
        if self.instance.attach.kind == ProbeKind.FEXIT:  # the return value follows the arguments
            return self.ctx_argument(self.checked.arg_positions[e], self.type_of(e))
        return self.pb.ctx_load(RETVAL_REGISTER)

    def builtin_arg(self, e: n.Identifier) -> ir.Value:
        index = int(e.name[3:])
        if KINDS[self.instance.attach.kind].args == Args.ARGUMENTS:  # ctx is u64 args[]
            btf = self.ctx.machine.btf()
            if btf is not None and pointer_argument(btf, self.instance.attach, index):
                return self.integer_argument(index)
            return self.pb.ctx_load(8 * index)
        return self.pb.ctx_load(ARG_REGISTERS[index])

    def integer_argument(self, index: int) -> ir.Value:
        """A BTF tracepoint's pointer argument as the integer `argN` is: read
        from the ctx by bpf_probe_read_kernel, so the verifier sees a number it
        lets scripts compute with (a pointer it would let them add to only);
        `(struct sk_buff *)arg0` reads the typed pointer itself (Lowerer.expr_Cast)."""
        address = self.b.ptrtoint(self.b.gep(self.pb.ctx, [i64(8 * index)], source_etype=I8),
                                  I64)
        slot = self.pb.fresh_memory(8)
        self.pb.helper(Helper.PROBE_READ_KERNEL, I64, [slot, i64(8), address])
        return self.pb.load64(slot)

    def builtin_probe(self, e: n.Identifier) -> ir.Value:
        if self.probe_name is not None:
            return self.probe_name
        return self.string_constant(probe_builtin(self.instance.attach))

    def builtin_func(self, e: n.Identifier) -> ir.Value:
        attach = self.instance.attach
        if attach.functions and self.probe_name is not None:
            # The probe's name is "uprobe:BINARY:FUNCTION": the function follows BINARY.
            return self.b.gep(self.probe_name, [i64(len(attach.function_prefix))],
                              source_etype=I8)
        return self.string_constant(func_name(attach))

    def builtin_probetype(self, e: n.Identifier) -> ir.Value:
        return self.string_constant(probe_type(self.instance.attach))

    def builtin_args(self, e: n.Identifier) -> ir.Value:
        return self.args_record(self.type_of(e))

    def builtin_kstack(self, e: n.Identifier) -> ir.Value:
        return self.stack(self.type_of(e))

    builtin_ustack = builtin_kstack

    # ---- calls ----
    def expr_Call(self, e: n.Call) -> ir.Value:
        method: Callable[[n.Call], ir.Value] = getattr(self, "call_" + e.name)
        return method(e)

    def call_printf(self, e: n.Call) -> ir.Value:
        if self.instance.attach.pin:
            return self.seq_printf(e)
        site = self.checked.printf_ids[e]
        layout = self.res.printf_layouts[site]
        values = [self.expr(a) for a in e.args[1:]]
        fields = [(arg.offset, arg.type, value, self.type_of(node))
                  for arg, value, node in zip(layout.args, values, e.args[1:], strict=True)]
        self.emit_event(EventKind.PRINTF, site, layout.size, fields)
        return i64(0)

    call_errorf = call_printf

    def seq_printf(self, e: n.Call) -> ir.Value:
        """printf in a pinned iterator: the kernel formats it into the file being
        read (bpf_seq_printf), from a C format the checker has kept to what the
        kernel formats: each integer as a 64-bit one, %p as 0x%llx, a string by
        its address."""
        segments = self.checked.printf_sites[self.checked.printf_ids[e]].segments
        text = "".join(s.replace("%", "%%") if isinstance(s, str) else
                       ("0x" if s.conv == "p" else "") + "%" + s.flags
                       + (str(s.width) if s.width is not None else "")
                       + ("ll" + ("x" if s.conv == "p" else s.conv) if s.conv not in "sc"
                          else s.conv)
                       for s in segments).encode() + b"\0"
        fmt = self.pb.fresh_memory(len(text) + -len(text) % 8, zeroed=False)
        self.pb.store_bytes(text + bytes(-len(text) % 8), fmt)
        args = e.args[1:]
        data = self.pb.fresh_memory(8 * len(args), zeroed=False) if args \
            else ir.Constant(PTR, None)
        for index, arg in enumerate(args):
            value = self.expr(arg)
            if isinstance(value.type, ir.PointerType):
                value = self.b.ptrtoint(value, I64)
            elif value.type.width < 64:
                atype = self.type_of(arg)
                signed = isinstance(atype, t.Int) and atype.signed
                value = (self.b.sext if signed else self.b.zext)(value, I64)
            self.pb.store64(value, data, 8 * index)
        meta = self.b.inttoptr(self.pb.ctx_load(0), PTR)  # ctx->meta, then meta->seq
        seq = self.b.inttoptr(self.b.load(meta, typ=I64, align=8), PTR)
        self.pb.helper(Helper.SEQ_PRINTF, I64, [seq, fmt, i64(len(text)), data,
                                                i64(8 * len(args))])
        return i64(0)
    call_warnf = call_printf
    call_system = call_printf
    call_cat = call_printf
    call_time = call_printf

    def call_strlen(self, e: n.Call) -> ir.Value:
        """Bytes before the first NUL (at most the string's capacity).

        Without branches: a loop that always runs to the capacity, counting
        bytes while all of them so far were non-zero. A loop leaving at the NUL
        would give the verifier one path per length, each explored through
        the rest of the program.
        """
        stype = self.type_of(e.args[0])
        assert isinstance(stype, t.Str)
        ptr = self.expr(e.args[0])
        b = self.b

        def count(index: ir.Value, values: list[ir.Value]) -> list[ir.Value]:
            alive, length = values
            byte = b.zext(b.load(b.gep(ptr, [index], source_etype=I8), typ=I8), I64)
            nonzero = b.lshr(b.add(self.pb.opaque(byte), i64(255)), i64(8))  # 1 iff byte != 0
            still = b.and_(alive, nonzero)
            return [still, b.add(length, still)]

        _, length = self.pb.counted_loop("strlen", stype.capacity, count, [i64(1), i64(0)])
        return length

    def call_memcmp(self, e: n.Call) -> ir.Value:
        """The difference of the first pair of bytes that differ (as unsigned
        bytes), 0 if none does: every byte is compared, without branches."""
        left, right, size = e.args
        count = constant_integer(size, self.ctx.options.params)
        assert count is not None
        lptr, rptr = self.expr(left), self.expr(right)
        b = self.b

        def compare(index: ir.Value, values: list[ir.Value]) -> list[ir.Value]:
            result, done = values
            lbyte, rbyte = (b.zext(b.load(b.gep(p, [index], source_etype=I8), typ=I8), I64)
                            for p in (lptr, rptr))
            differ = b.icmp_unsigned("!=", lbyte, rbyte)
            first = b.and_(differ, b.icmp_unsigned("==", done, i64(0)))
            return [b.select(first, b.sub(lbyte, rbyte), result),
                    b.or_(done, b.zext(differ, I64))]

        result, _ = self.pb.counted_loop("memcmp", count, compare, [i64(0), i64(0)])
        return result

    def call_strncmp(self, e: n.Call) -> ir.Value:
        """0 when the strings agree in their first n bytes (up to a NUL), else 1."""
        left, right, size = e.args
        ltype, rtype = self.type_of(left), self.type_of(right)
        assert isinstance(ltype, t.Str) and isinstance(rtype, t.Str)
        given = constant_integer(size, self.ctx.options.params)
        assert given is not None
        lptr, rptr = self.expr(left), self.expr(right)
        limit = min(given, ltype.capacity, rtype.capacity)
        if limit == 0:
            return i64(0)
        equal = self.pb.strings_equal(lptr, rptr, limit)
        return self.b.zext(self.b.not_(equal), I64)

    def call_strcontains(self, e: n.Call) -> ir.Value:
        return self.b.zext(self.b.icmp_signed(">=", self.string_index(e), i64(0)), I64)

    def call_globmatch(self, e: n.Call) -> ir.Value:
        """Whether the string matches the pattern, read once: bit k of a mask
        says the string so far matches the pattern's first k tokens (a `*`
        may stay where it is or match nothing); the last bit at the NUL is
        the answer."""
        text, pattern = e.args
        ttype = self.type_of(text)
        assert isinstance(ttype, t.Str) and isinstance(pattern, n.String)
        tokens = glob_tokens(pattern.value.encode("latin-1"))
        ptr = self.expr(text)
        b = self.b

        def bit(mask: ir.Value, k: int) -> ir.Value:  # bit k of mask, as 0 or 1
            return b.and_(b.lshr(mask, i64(k)), i64(1))

        def closure(mask: ir.Value) -> ir.Value:  # a `*` may match nothing
            for k, token in enumerate(tokens):
                if token is STAR:
                    mask = b.or_(mask, b.shl(bit(mask, k), i64(k + 1)))
            return mask

        def below(value: ir.Value, bound: int) -> ir.Value:  # 1 if value (< 2**63) < bound
            return b.lshr(b.sub(self.pb.opaque(value), i64(bound)), i64(63))

        def member(byte: ir.Value, first: int, last: int) -> ir.Value:
            # Arithmetic, no branch: the verifier would follow both sides of
            # each comparison at each byte.
            # A byte below `first` wraps to at least 1024 - 255, above any bound.
            return below(b.and_(b.sub(byte, i64(first)), i64(0x3FF)), last - first + 1)

        def step(index: ir.Value, values: list[ir.Value]) -> list[ir.Value]:
            mask, done = values
            byte = b.zext(b.load(b.gep(ptr, [self.pb.opaque(index)], source_etype=I8), typ=I8),
                          I64)
            after: ir.Value = i64(0)
            for k, token in enumerate(tokens):
                if token is STAR:
                    after = b.or_(after, b.shl(bit(mask, k), i64(k)))
                    continue
                matches: ir.Value = i64(1) if token == ALL else i64(0)
                if token != ALL:
                    for first, last in byte_ranges(token):
                        matches = b.or_(matches, member(byte, first, last))
                after = b.or_(after, b.shl(b.and_(bit(mask, k), matches), i64(k + 1)))
            stop = b.or_(done, below(byte, 1))
            keep = b.sub(i64(0), stop)  # every bit set once the NUL is reached
            return [b.or_(b.and_(mask, keep), b.and_(closure(after), b.xor(keep, i64(-1)))),
                    stop]

        mask, _ = self.pb.counted_loop("globmatch", ttype.capacity, step,
                                       [closure(i64(1)), i64(0)])
        return bit(mask, len(tokens))

    def call_strstr(self, e: n.Call) -> ir.Value:
        return self.string_index(e)

    def string_index(self, e: n.Call) -> ir.Value:
        """strstr()/strcontains(haystack, needle): the index of the needle's
        first occurrence in the haystack, tried at each position up to its
        NUL; -1 if there is none."""
        haystack, needle = e.args
        htype = self.type_of(haystack)
        assert isinstance(htype, t.Str)
        if not isinstance(needle, n.String):
            return self.index_of_string(self.expr(haystack), htype, self.expr(needle),
                                        self.type_of(needle))
        text = needle.value.encode("latin-1")
        if not text:
            return i64(0)
        last_start = htype.capacity - len(text)
        if last_start < 0:
            return i64(-1)
        ptr = self.expr(haystack)
        b = self.b

        def test(index: ir.Value) -> tuple[ir.Value, ir.Value]:
            here = b.gep(ptr, [index], source_etype=I8)
            ended = b.icmp_unsigned("==", b.load(here, typ=I8), ir.Constant(I8, 0))
            match = self.pb.bytes_equal(here, text)
            return b.or_(match, ended), b.select(match, index, i64(-1))

        return self.pb.search_loop("strstr", last_start + 1, test, otherwise=-1)

    def index_of_string(self, hay: ir.Value, htype: t.Str, needle: ir.Value,
                        ntype: t.Type) -> ir.Value:
        """string_index() of a needle known at run time: at each position of
        the haystack up to its NUL, the needle's bytes compared up to its NUL.

        The comparison at a position has no branch the verifier cannot decide
        (equality is arithmetic: `(x ^ y) - 1` has its top bit set only when x
        equals y), so it follows one path through it; its steps are still the
        product of the two capacities."""
        assert isinstance(ntype, t.Str)
        b = self.b
        last = i64(htype.capacity - 1)

        def is_zero(value: ir.Value) -> ir.Value:  # 1 if value (a byte) is 0, else 0
            return b.lshr(b.sub(self.pb.opaque(value), i64(1)), i64(63))

        def start_at(index: ir.Value) -> tuple[ir.Value, ir.Value]:
            # Indexes through passthrough: LLVM would make `base + i` of a small i
            # into `base | i`, which the verifier refuses on a stack address.
            first = b.gep(hay, [self.pb.opaque(index)], source_etype=I8)
            ended = b.icmp_unsigned("==", b.load(first, typ=I8), ir.Constant(I8, 0))

            def compare(offset: ir.Value, state: list[ir.Value]) -> list[ir.Value]:
                matching, done = state
                wanted = b.zext(b.load(b.gep(needle, [self.pb.opaque(offset)],
                                             source_etype=I8), typ=I8), I64)
                position = b.add(index, offset)
                inside = b.icmp_unsigned("<=", position, last)  # known at each step
                here = self.pb.value_or_zero(inside, lambda: b.zext(b.load(
                    b.gep(hay, [position], source_etype=I8), typ=I8), I64), "strstr.byte")
                complete = is_zero(wanted)
                same = is_zero(b.xor(here, wanted))
                return [b.and_(matching, b.or_(b.or_(done, complete), same)),
                        b.or_(done, complete)]

            matching, _ = self.pb.counted_loop("strstr.at", ntype.capacity, compare,
                                               [i64(1), i64(0)])
            match = b.icmp_unsigned("!=", matching, i64(0))
            return b.or_(match, ended), b.select(match, index, i64(-1))

        return self.pb.search_loop("strstr", htype.capacity, start_at, otherwise=-1)

    def call_bswap(self, e: n.Call) -> ir.Value:
        value = self.expr(e.args[0])
        rtype = self.type_of(e)
        bits = rtype.bits if isinstance(rtype, t.Int) else 64
        if bits == 8:
            return self.b.and_(value, i64(0xFF))
        width = ir.IntType(bits)
        fn = self.pb.module.declare_intrinsic("llvm.bswap", [width])
        swapped = self.b.call(fn, [self.b.trunc(value, width) if bits < 64 else value])
        return self.b.zext(swapped, I64) if bits < 64 else swapped

    def call_kptr(self, e: n.Call) -> ir.Value:
        return self.expr(e.args[0])

    def call_uptr(self, e: n.Call) -> ir.Value:
        return self.expr(e.args[0])

    def call_strerror(self, e: n.Call) -> ir.Value:
        return self.expr(e.args[0])

    def call_strftime(self, e: n.Call) -> ir.Value:
        return self.expr(e.args[1])

    def call_kstack(self, e: n.Call) -> ir.Value:
        return self.stack(self.type_of(e))

    call_ustack = call_kstack

    def call_ksym(self, e: n.Call) -> ir.Value:
        return self.expr(e.args[0])

    call_cgroup_path = call_ksym  # the id; user space finds its paths

    def stack_depth(self, stype: t.Stack) -> ir.Value:
        """How many frames (up to the stack's limit) bpf_get_stack copies: the
        bytes it returns over 8; 0 where it fails."""
        frames = self.pb.fresh_memory(8 * stype.limit, zeroed=False)
        flags = BPF_F_USER_STACK if stype.user else 0
        size = self.pb.helper(Helper.GET_STACK, I64,
                              [self.pb.ctx, frames, i64(8 * stype.limit), i64(flags)])
        return self.b.select(self.b.icmp_signed(">", size, i64(0)),
                             self.b.sdiv(size, i64(8)), i64(0))

    def stack(self, stype: t.Type) -> ir.Value:
        """A stack's id in its stack-trace map, and the pid for user stacks."""
        assert isinstance(stype, t.Stack)
        flags = BPF_F_USER_STACK if stype.user else 0
        stack_map = self.pb.map_ptr(self.res.stack_maps[stype.limit])
        stack_id = self.pb.helper(Helper.GET_STACKID, I64, [self.pb.ctx, stack_map, i64(flags)])
        self.check_helper(stack_id, Helper.GET_STACKID, 1)
        mem = self.pb.fresh_memory(16)
        self.pb.store64(stack_id, mem)
        self.pb.store64(self.current_pid() if stype.user else i64(0), mem, 8)
        return mem

    def call_buf(self, e: n.Call) -> ir.Value:
        """A Buf: the length read, then the bytes (from memory, or copied from an
        array or string value)."""
        btype = self.type_of(e)
        assert isinstance(btype, t.Buf)
        source = e.args[0]
        stype = self.type_of(source)
        value = self.expr(source)
        mem = self.pb.fresh_memory(btype.size)
        length = self.expr(e.args[1]) if len(e.args) == 2 else i64(btype.capacity)
        if isinstance(stype, t.Array | t.Str):  # a value: copy it, keep the length
            self.pb.memcpy(self.pb.offset(mem, 8), value, btype.capacity)
            self.pb.store64(self.b.select(self.b.icmp_unsigned("<", length, i64(btype.capacity)),
                                          length, i64(btype.capacity)), mem)
            return mem
        length = self.clamped_length(length, btype.capacity)
        self.pb.store64(length, mem)
        space = stype.space if isinstance(stype, t.Pointer) else "kernel"
        helper = read_helper(space)
        self.pb.helper(helper, I64, [self.pb.offset(mem, 8), length, value])
        return mem

    def clamped_length(self, length: ir.Value, capacity: int) -> ir.Value:
        """`length`, at most `capacity`, as a bound the verifier can see (a size
        given to a read helper must be provably within the destination)."""
        length = self.b.select(self.b.icmp_unsigned("<", length, i64(capacity)),
                               length, i64(capacity))
        length = self.b.and_(self.pb.opaque(length), i64(_mask_for(capacity)))
        return self.b.select(self.b.icmp_unsigned("<", length, i64(capacity)),
                             length, i64(capacity))

    def call_join(self, e: n.Call) -> ir.Value:
        """Reads the pointers of the array one by one into the record, each string
        straight into its slot, until a NULL; the record starts with the count."""
        site = self.checked.printf_ids[e]
        layout = self.res.printf_layouts[site]
        array = self.expr(e.args[0])
        atype = self.type_of(e.args[0])
        user = (isinstance(atype, t.Pointer) and atype.space == "user") or \
            self.instance.attach.user_addresses
        read = Helper.PROBE_READ_USER if user else Helper.PROBE_READ_KERNEL
        read_str = Helper.PROBE_READ_USER_STR if user else Helper.PROBE_READ_KERNEL_STR
        pointer = self.pb.fresh_memory(8)

        def fill(record: ir.Value) -> None:
            count_slot = layout.args[0].offset
            self.pb.store64(i64(0), record, count_slot)
            done = self.pb.block("join.done")
            for i, arg in enumerate(layout.args[1:]):
                assert isinstance(arg.type, t.Str)
                self.pb.store64(i64(0), pointer)
                self.pb.helper(read, I64, [pointer, i64(8), self.b.add(array, i64(8 * i))])
                string = self.pb.load64(pointer)
                more = self.pb.block("join.arg")
                self.b.cbranch(self.b.icmp_unsigned("==", string, i64(0)), done, more)
                self.b.position_at_end(more)
                slot = self.pb.offset(record, arg.offset)
                self.pb.helper(read_str, I64, [slot, i64(arg.type.capacity), string])
                self.pb.store64(i64(i + 1), record, count_slot)
            self.b.branch(done)
            self.b.position_at_end(done)

        self.emit_record(EventKind.PRINTF, site, layout.size, fill)
        return i64(0)

    def call_ntop(self, e: n.Call) -> ir.Value:
        """An Inet value: the family, then the address bytes as they lie in memory."""
        address = e.args[-1]
        atype = self.type_of(address)
        value = self.expr(address)
        mem = self.pb.fresh_memory(24)
        if len(e.args) == 2:
            family = self.expr(e.args[0])
        else:
            family = i64(AF_INET6 if isinstance(atype, t.Array) and atype.count == 16
                         else AF_INET)
        self.pb.store64(family, mem)
        if isinstance(atype, t.Array):
            self.pb.memcpy(self.pb.offset(mem, 8), value, atype.count)
        else:
            self.b.store(self.b.trunc(value, I32), self.pb.offset(mem, 8), align=8)
        return mem

    def call_pton(self, e: n.Call) -> ir.Value:
        return self.bytes_constant(self.checked.pton_addresses[e])

    def call_macaddr(self, e: n.Call) -> ir.Value:
        arg = e.args[0]
        atype = self.type_of(arg)
        value = self.expr(arg)
        slot = self.pb.fresh_memory(8)
        if isinstance(atype, t.Pointer):
            helper = Helper.PROBE_READ_USER if atype.space == "user" else \
                Helper.PROBE_READ_KERNEL
            self.pb.helper(helper, I64, [slot, i64(6), value])
        else:
            self.pb.memcpy(slot, value, 6)
        return self.pb.load64(slot)

    def call_len(self, e: n.Call) -> ir.Value:
        """bpf_for_each_map_elem counts the entries it visits: a callback that
        does nothing visits them all."""
        target = e.args[0]
        if not isinstance(target, n.MapAccess):  # kstack or ustack
            stype = self.type_of(target)
            assert isinstance(stype, t.Stack)
            return self.stack_depth(stype)
        child = self.pb.callback(f"{self.pb.function.name}_len{len(self.pb.module.functions)}",
                                 4)
        child.finish()
        return self.pb.helper(Helper.FOR_EACH_MAP_ELEM, I64,
                              [self.pb.map_ptr(self.ctx.maps[target.name].index),
                               child.function, ir.Constant(PTR, None), i64(0)])

    def call_getopt(self, e: n.Call) -> ir.Value:
        value = self.checked.getopt_values[e]
        return self.string_constant(value) if isinstance(value, str) else i64(value)

    def call_kaddr(self, e: n.Call) -> ir.Value:
        return i64(self.checked.kernel_addresses[e])

    def call_percpu_kaddr(self, e: n.Call) -> ir.Value:
        """bpf_per_cpu_ptr(&var, cpu), or bpf_this_cpu_ptr(&var) without a CPU."""
        name = e.args[0]
        assert isinstance(name, n.String)
        btf = self.ctx.machine.btf()
        assert btf is not None  # the checker found the variable
        var = btf.find(name.value, "var")
        assert var is not None
        address = self.pb.kernel_variable(var)
        if len(e.args) > 1:
            cpu = self.expr(e.args[1])
            return self.pb.helper(Helper.PER_CPU_PTR, I64, [address, cpu])
        return self.pb.helper(Helper.THIS_CPU_PTR, I64, [address])

    def call_socket_cookie(self, e: n.Call) -> ir.Value:
        return self.pb.helper(Helper.GET_SOCKET_COOKIE, I64, [self.expr(e.args[0])])

    def call_skboutput(self, e: n.Call) -> ir.Value:
        """bpf_skb_output: the packet's first offset + length bytes (at most what
        BPF_F_CTXLEN_MASK holds) after a PACKET_HEADER, in this CPU's perf buffer."""
        site, wire_length = self.checked.skb_outputs[e]
        offset = self.checked.skb_sites[site][1]
        skb = self.expr(e.args[1])
        wanted = self.b.add(self.expr(e.args[2]), i64(offset))
        limit = i64(SKB_OUTPUT_MAX)
        captured = self.b.select(self.b.icmp_unsigned(">", wanted, limit), limit, wanted)
        header = self.pb.fresh_memory(PACKET_HEADER.size)
        self.pb.store64(i64(site), header)
        self.pb.store64(self.pb.helper(Helper.KTIME_GET_BOOT_NS, I64, []), header, 8)
        self.pb.store64(self.expr(wire_length), header, 16)
        self.pb.store64(captured, header, 24)
        flags = self.b.or_(self.b.shl(captured, i64(32)), i64(BPF_F_CURRENT_CPU))
        result = self.pb.helper(Helper.SKB_OUTPUT, I64, [
            skb, self.pb.map_ptr(self.res.packet_map), flags, header, i64(PACKET_HEADER.size)])
        return self.b.and_(result, i64(0xFFFFFFFF))

    def call_usym(self, e: n.Call) -> ir.Value:
        """The address, and the pid whose symbols name it."""
        mem = self.pb.fresh_memory(16)
        self.pb.store64(self.expr(e.args[0]), mem)
        self.pb.store64(self.current_pid(), mem, 8)
        return mem

    def call_uaddr(self, e: n.Call) -> ir.Value:
        return self.binary_address(self.checked.symbol_offsets[e])

    def call_reg(self, e: n.Call) -> ir.Value:
        name = e.args[0]
        assert isinstance(name, n.String)
        return self.pb.ctx_load(REG_NAMES[name.value])

    def binary_address(self, distance: int) -> ir.Value:
        """Where a place `distance` bytes from the probe in its binary's layout is
        in the probed process: a PIE or a library loads anywhere, but all in one
        piece, and bpf_get_func_ip gives where the probe itself is (in a
        uretprobe too: the uprobe's address, not the return address)."""
        return self.b.add(self.pb.helper(Helper.GET_FUNC_IP, I64, [self.pb.ctx]), i64(distance))

    def usdt_arg(self, index: int) -> ir.Value:
        from ptrace.codegen.usdt_args import read_usdt_arg  # (usdt probes only)
        from ptrace.usdt import parse_arg as parse_usdt_arg

        attach = self.instance.attach
        arg = parse_usdt_arg(attach.usdt_args[index])
        symbol = self.binary_address(dict(attach.usdt_symbols)[arg.symbol] - attach.address) \
            if arg.symbol else None
        return read_usdt_arg(self.pb, arg, symbol)

    def call_cgroupid(self, e: n.Call) -> ir.Value:
        return i64(self.checked.cgroup_ids[e])

    def call_has_key(self, e: n.Call) -> ir.Value:
        target = self.checked.delete_targets[e]
        info = self.ctx.maps[target.name]
        key = self.map_key(target)
        found = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR, [self.pb.map_ptr(info.index), key])
        return self.b.zext(self.b.icmp_unsigned("!=", found, ir.Constant(PTR, None)), I64)

    def call_signal(self, e: n.Call) -> ir.Value:
        helper = Helper.SEND_SIGNAL_THREAD if e.name == "signal_thread" else Helper.SEND_SIGNAL
        ret = self.pb.helper(helper, I64, [i64(self.checked.signal_numbers[e])])
        self.check_helper(ret, helper, 1)
        return i64(0)

    def call_signal_thread(self, e: n.Call) -> ir.Value:
        return self.call_signal(e)

    def call_print(self, e: n.Call) -> ir.Value:
        site = self.checked.print_ids[e]
        spec = self.res.print_sites[site]
        if spec.value is None:
            self.emit_event(EventKind.PRINT_MAP, site, EVENT_HEADER_SIZE, [])
        else:
            arg = e.args[0]
            self.emit_event(EventKind.PRINT_VALUE, site, spec.value.offset + spec.value.type.size,
                            [(spec.value.offset, spec.value.type, self.expr(arg),
                              self.type_of(arg))])
        return i64(0)

    def call_exit(self, e: n.Call) -> ir.Value:
        """exit(): the event, then the stop flag set (no probe runs from now on, as
        after a Ctrl-C), and this probe ends here. In an iter probe the
        iteration goes on over every object, as in bpftrace (whose iterators
        print as they go): the code is kept, and the event sent at its end."""
        self.exit_with(self.expr(e.args[0]) if e.args else i64(0))
        return i64(0)

    def exit_with(self, code: ir.Value) -> None:
        """exit(code)'s effect, and the end of this probe's run."""
        if self.instance.attach.kind == ProbeKind.ITER:
            self.set_global(GLOBAL_ITER_EXIT, self.b.add(code, i64(1)))
        else:
            self.send_exit(code)
            self.set_global(GLOBAL_STOPPED, i64(1))
        self.b.branch(self.exit_block)

    def call_assert(self, e: n.Call) -> ir.Value:
        """Unless the condition holds: the error (an errorf event), then exit(1)."""
        cond, msg = e.args
        failed = self.pb.block("assert.failed")
        held = self.pb.block("assert.held")
        self.b.cbranch(self.truth(cond), held, failed)
        self.b.position_at_end(failed)
        site = self.checked.printf_ids[e]
        layout = self.res.printf_layouts[site]
        (arg,) = layout.args
        self.emit_event(EventKind.PRINTF, site, layout.size,
                        [(arg.offset, arg.type, self.expr(msg), self.type_of(msg))])
        self.exit_with(i64(1))
        self.b.position_at_end(held)
        return i64(0)

    def send_exit(self, code: ir.Value) -> None:
        self.emit_event(EventKind.EXIT, 0, EXIT_CODE.offset + EXIT_CODE.type.size,
                        [(EXIT_CODE.offset, EXIT_CODE.type, code, t.INT64)])

    def set_global(self, slot: int, value: ir.Value) -> None:
        key = self.pb.fresh_memory(8, zeroed=False)
        self.b.store(ir.Constant(I32, slot), key)
        flag = self.pb.helper(Helper.MAP_LOOKUP_ELEM, PTR,
                              [self.pb.map_ptr(self.res.globals_map), key])
        with self.b.if_then(self.b.icmp_unsigned("!=", flag, ir.Constant(PTR, None))):
            self.pb.store64(value, flag)

    def iteration_end(self) -> None:
        """At an iteration's end: the exit() one of its objects asked for."""
        requested = self.global_value(GLOBAL_ITER_EXIT)
        with self.b.if_then(self.b.icmp_unsigned("!=", requested, i64(0))):
            self.send_exit(self.b.sub(requested, i64(1)))

    def call_clear(self, e: n.Call) -> ir.Value:
        arg = e.args[0]
        assert isinstance(arg, n.MapAccess)
        self.emit_event(EventKind.CLEAR, self.ctx.maps[arg.name].index, EVENT_HEADER_SIZE, [])
        return i64(0)

    def call_unwatch(self, e: n.Call) -> ir.Value:
        self.emit_event(EventKind.UNWATCH, 0, WATCHED_ADDRESS.offset + 8,
                        [(WATCHED_ADDRESS.offset, t.INT64, self.expr(e.args[0]), t.INT64)])
        return i64(0)

    def call_zero(self, e: n.Call) -> ir.Value:
        arg = e.args[0]
        assert isinstance(arg, n.MapAccess)
        self.emit_event(EventKind.ZERO, self.ctx.maps[arg.name].index, EVENT_HEADER_SIZE, [])
        return i64(0)

    def call_delete(self, e: n.Call) -> ir.Value:
        target = self.checked.delete_targets.get(e, e.args[0])
        assert isinstance(target, n.MapAccess)
        info = self.ctx.maps[target.name]
        key = self.map_key(target)
        ret = self.pb.helper(Helper.MAP_DELETE_ELEM, I64, [self.pb.map_ptr(info.index), key])
        return self.b.zext(self.b.icmp_signed("==", ret, i64(0)), I64)

    def call_str(self, e: n.Call) -> ir.Value:
        arg = e.args[0]
        text = param_text(arg, self.ctx.options.params)  # str($1), str($1 + 1)
        if text is not None:
            return self.string_constant(text)
        source_type = self.type_of(e.args[0])
        value = self.expr(e.args[0])
        rtype = self.type_of(e)
        assert isinstance(rtype, t.Str)
        if isinstance(source_type, t.Str):
            if rtype.capacity >= source_type.capacity:
                return value
            cut = self.pb.fresh_memory(rtype.size)  # zeroed: the NUL after the bytes kept
            self.pb.memcpy(cut, value, rtype.capacity - 1, src_align=1)
            return cut
        mem = self.pb.fresh_memory(rtype.size)
        size: ir.Value = i64(rtype.capacity)
        if len(e.args) == 2 and not isinstance(e.args[1], n.Integer):  # n - 1 chars and a NUL
            size = self.clamped_length(self.expr(e.args[1]), rtype.capacity)
        helper = read_str_helper(arg, source_type, self.instance.attach)
        self.check_helper(self.pb.helper(helper, I64, [mem, size, value]), helper, 2)
        return mem


def _mask_for(limit: int) -> int:
    """The smallest all-ones mask covering 0..limit."""
    return (1 << limit.bit_length()) - 1
