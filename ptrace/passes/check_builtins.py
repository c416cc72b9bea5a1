"""The checks of builtins: each builtin variable and function of the table
(`ptrace.types.builtins`) typed and checked, one method per row.

`BuiltinChecks` is a part of the type checker (`check_types._Checker`): what
the table declares (--unsafe, arity, the probes that may use it) is checked
before a row's method runs; the method checks the rest and gives the type.
"""

from __future__ import annotations

import difflib
import signal as signal_module
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ptrace.ast import nodes as n
from ptrace.bpf_abi import ProgType
from ptrace.diagnostics import Reporter, Span, site_location
from ptrace.options import SETTINGS, param_integer, unstable_refused
from ptrace.passes.context import PrintCall, PrintfSite
from ptrace.passes.probe_context import func_name, probe_address, probe_type
from ptrace.passes.type_rules import is_unsigned, literal_value, param_text, storable
from ptrace.printf_format import Conversion, FormatError, parse_format
from ptrace.probe_kinds import KINDS, ProbeKind
from ptrace.program import SKB_OUTPUT_MAX
from ptrace.types import types as t
from ptrace.types.builtins import (
    CLOCKS,
    FUNCTIONS,
    LATER_FUNCTIONS,
    PID_NAMESPACES,
    REG_NAMES,
    TASK_FIELDS,
    TASK_FROM_PID,
    TASK_RELEASE,
    Function,
    Variable,
    Where,
)
from ptrace.types.glob import glob_tokens

if TYPE_CHECKING:
    from ptrace.passes.context import CompileContext, MapInfo, ProbeInstance, TypeResults

STACK_LIMIT = 127  # the kernel's default perf_event_max_stack
# What debugf() passes to the kernel's formatting (bpf_trace_vprintk): these
# conversions, and at most this many arguments (the kernel's MAX_BPRINTF_VARARGS).
DEBUGF_CONVERSIONS = ("d", "i", "u", "x", "X", "c", "s")
DEBUGF_ARGS = 12
# What socket_cookie() takes a pointer to.
SOCKET_TYPES = ("struct sock", "struct sock_common")
# The programs the kernel lets call bpf_task_from_pid() (its kfuncs for tracing).
KFUNC_PROGRAMS = (ProgType.TRACING, ProgType.TRACEPOINT, ProgType.PERF_EVENT)
STACK_MODES = ("bpftrace", "perf", "raw")
JOIN_ARGS = 16  # join() prints at most this many strings …
JOIN_ARG_SIZE = 256  # … of at most this many bytes each (and max_strlen)


def _unqualified(ctype: str) -> str:
    """A C type's name without its const and volatile."""
    return " ".join(word for word in ctype.split() if word not in ("const", "volatile"))


# strcontains()/strstr() with a needle known at run time: the verifier follows a step of
# about 25 instructions for each byte of the needle at each position of the
# haystack, within its million (1025 by 32 loads; 1025 by 64 does not).
STRCONTAINS_STEPS = 40_000
# globmatch() keeps which prefixes of its pattern match in the bits of a register.
GLOB_TOKENS = 63


# Calls whose output goes through the ring buffer: a pinned iterator runs when
# its file is read, after ptrace has ended.
_UNPINNABLE = frozenset({"print", "time", "join", "system", "cat", "errorf", "warnf", "clear",
                         "zero", "exit"})
# What bpf_seq_printf formats (the kernel's bprintf: 12 arguments at most).
SEQ_PRINTF_ARGS = 12
SEQ_PRINTF_CONVERSIONS = frozenset("diuxXcsp")

class BuiltinChecks:
    """The checker's methods for builtins: `builtin_<name>` types a variable
    (those without a fixed type), `call_<name>` checks a call and gives its
    type (an aggregation's: the map's value)."""

    if TYPE_CHECKING:  # the rest of the checker, which these methods use
        ctx: CompileContext
        checked: TypeResults
        instance: ProbeInstance
        calls: list[n.Call]  # the calls being checked, innermost last
        reporter: Reporter
        dead: int  # > 0 in a branch never taken

        def error(self, message: str, span: Span, *hints: str) -> None: ...

        def constant_integer(self, e: n.Expr) -> int | None: ...
        def folded(self, e: n.Expr) -> int | None: ...

        def expr(self, expr: n.Expr, statement: bool = False) -> t.Type | None: ...
        def map_info(self, name: str, span: Span) -> MapInfo | None: ...
        def key_type(self, access: n.MapAccess) -> t.Type | None: ...
        def _check_key(self, info: MapInfo, access: n.MapAccess,
                       key: t.Type | None) -> None: ...
        def kernel_pointer(self, name: str, space: str = "kernel") -> t.Pointer | None: ...
        def held(self, vtype: t.Type | None, span: Span) -> t.Type | None: ...
        def fexit_retval(self, e: n.Identifier) -> t.Type | None: ...
        def args_record(self, e: n.Identifier) -> t.Type | None: ...
        def context_pointer(self, e: n.Identifier) -> t.Type | None: ...

    # ---- variables ----
    def variable(self, e: n.Identifier, row: Variable) -> t.Type | None:
        """A builtin variable: its row's type, or its method's."""
        if not self._allowed(row.where, f"'{e.name}'", e.span):
            return None
        if row.type is not None:
            return row.type
        method: Callable[[n.Identifier], t.Type | None] = getattr(self, row.method_name)
        return method(e)

    def _allowed(self, where: Where | None, what: str, span: Span) -> bool:
        """Whether a builtin may be used in this probe; if not, the script is told,
        naming the probe's kind as scripts write it."""
        kind = self.instance.attach.kind
        if where is None or kind in where.kinds:
            return True
        self.error(f"{what} cannot be used in {KINDS[kind].name} probes"
                   + (f": {where.why}" if where.why else ""), span,
                   *([where.hint] if where.hint else []))
        return False

    def builtin_task_field(self, e: n.Identifier) -> t.Type | None:
        """ppid, pcomm, leader_tid, leader_comm: fields of the current task."""
        return self._task_field(e, e.name, n.Identifier("curtask", span=e.span))

    def _task_field(self, e: n.Expr, name: str, task: n.Expr) -> t.Type | None:
        """The builtin as the expression reading its fields (kept for the lowering)."""
        fields, cast = TASK_FIELDS[name]
        read = task
        for field_name in fields:
            read = n.Field(read, field_name, True, span=e.span)
        if cast is not None:
            read = n.Cast(n.TypeName(cast, 0, None, span=e.span), read, span=e.span)
        rtype = self.expr(read)
        if rtype is not None:
            self.checked.expansions[e] = read
        return rtype

    def builtin_config(self, e: n.Identifier) -> t.Type | None:
        """config: a record of the settings' values, as literals."""
        fields = []
        for key, setting in sorted(SETTINGS.items()):
            value = getattr(self.ctx.options, setting.field)
            literal: n.Expr = n.Boolean(value, span=e.span) if isinstance(value, bool) else \
                n.Integer(value, str(value), span=e.span) if isinstance(value, int) else \
                n.String(str(value), span=e.span)
            fields.append(n.RecordField(key, literal, span=e.span))
        record = n.Record(tuple(fields), span=e.span)
        rtype = self.expr(record)
        self.checked.expansions[e] = record
        return rtype

    def call_ppid(self, e: n.Call) -> t.Type | None:
        """ppid(task), pcomm(task), …: fields of a `struct task_struct *`."""
        task = e.args[0] if e.args else n.Identifier("curtask", span=e.span)
        return self._task_field(e, e.name, task)

    call_pcomm = call_leader_tid = call_leader_comm = call_ppid

    def call_nsecs(self, e: n.Call) -> t.Type | None:
        """nsecs(clock): boot (the default), monotonic, tai or sw_tai."""
        if e.args and not _named(e.args[0], CLOCKS):
            self.error(f"nsecs() takes a clock: {', '.join(CLOCKS)}", e.args[0].span)
            return None
        return t.UINT64

    def call_pid(self, e: n.Call) -> t.Type | None:
        """pid(ns), tid(ns): curr_ns (the default) or init."""
        if e.args and not _named(e.args[0], PID_NAMESPACES):
            self.error(f"{e.name}() takes a pid namespace: {', '.join(PID_NAMESPACES)}",
                       e.args[0].span)
            return None
        return t.UINT32

    call_tid = call_pid

    def call_comm(self, e: n.Call) -> t.Type | None:
        """comm(pid): the name of the process of a pid, through the kernel's
        bpf_task_from_pid(); comm(): the current thread's."""
        if e.args:
            if self._integer_arg(e.args[0]) is None:
                return None
            kind = self.instance.attach.kind
            if self.instance.attach.prog_type not in KFUNC_PROGRAMS:
                # (and raw tracepoints the kernel's BTF types: BTF tracepoints)
                allowed = sorted({row.name for row in KINDS.values()
                                  if row.prog_type in KFUNC_PROGRAMS and row.provider}
                                 | {ProbeKind.RAWTRACEPOINT.value})
                self.error(f"comm(pid) cannot be used in {KINDS[kind].name} probes: the kernel "
                           f"does not let their programs call {TASK_FROM_PID}()", e.span,
                           f"it can be used in {', '.join(allowed[:-1])} and {allowed[-1]} "
                           "probes")
                return None
            btf = self.ctx.machine.btf()
            if btf is None or btf.find(TASK_FROM_PID, "func") is None \
                    or btf.find(TASK_RELEASE, "func") is None:
                self.error(f"comm(pid) needs the kernel function {TASK_FROM_PID}() "
                           "(Linux 6.1 with BTF), which this kernel does not have", e.span)
                return None
        return t.Str(16)

    def call_debugf(self, e: n.Call) -> t.Type | None:
        """debugf(fmt, …): the kernel formats it (bpf_trace_vprintk), so the format
        keeps to what the kernel formats: integers with %d %i %u %x %X %c, plain
        or with l and ll, strings with %s; at most 12 arguments."""
        parsed = self._parse_format_call(e)
        if parsed is None:
            return None
        segments, args, arg_types = parsed
        fmt = e.args[0]
        assert isinstance(fmt, n.String)
        conversions = [s for s in segments if not isinstance(s, str)]
        for conv in conversions:
            if conv.conv not in DEBUGF_CONVERSIONS or conv.length not in ("", "l", "ll") \
                    or "#" in conv.flags:
                self.error("debugf() formats what the kernel's bpf_trace_printk does: %d %i %u "
                           "%x %X %c (with l or ll) and %s", _format_span(fmt, conv.start,
                                                                          conv.end))
                return None
        if len(conversions) != len(args) or len(args) > DEBUGF_ARGS:
            self.error(f"debugf() takes as many arguments as its format has conversions, at "
                       f"most {DEBUGF_ARGS}: {len(conversions)} conversions, {len(args)} "
                       "arguments", e.span)
            return None
        ok = True
        for conv, arg, atype in zip(conversions, args, arg_types, strict=True):
            want_string = conv.conv == "s"
            if atype is not None and (isinstance(atype, t.Str) != want_string
                                      or not (want_string or atype.is_integer)):
                self.error(f"%{conv.conv} in debugf() expects "
                           f"{'a string' if want_string else 'an integer'}, got {atype}",
                           arg.span)
                ok = False
        return t.VOID if ok and None not in arg_types else None

    def call_syscall_name(self, e: n.Call) -> t.Type | None:
        if self._integer_arg(e.args[0]) is not None:
            return t.Formatted(t.FormatKind.SYSCALL_NAME)
        return None

    def call_signal_name(self, e: n.Call) -> t.Type | None:
        if self._integer_arg(e.args[0]) is not None:
            return t.Formatted(t.FormatKind.SIGNAL_NAME)
        return None

    def builtin_curtask(self, e: n.Identifier) -> t.Type | None:
        return self.kernel_pointer("struct task_struct") or t.Pointer("struct task_struct")

    def builtin_retval(self, e: n.Identifier) -> t.Type | None:
        return self.fexit_retval(e) if self.instance.attach.kind == ProbeKind.FEXIT else t.INT64

    def builtin_cpid(self, e: n.Identifier) -> t.Type | None:
        if not self.ctx.options.has_command:
            self.reporter.warning("cpid is 0: no command was given with -c", e.span,
                         "has_cpid tells whether there is one; run as: ptrace -c 'COMMAND' -e '…'")
        return t.UINT32

    def builtin_probe(self, e: n.Identifier) -> t.Type | None:
        return t.Str(max(len(name) for name in self.instance.attach.probe_names) + 1)

    def builtin_probetype(self, e: n.Identifier) -> t.Type | None:
        return t.Str(len(probe_type(self.instance.attach)) + 1)

    def builtin_func(self, e: n.Identifier) -> t.Type | None:
        functions = self.instance.attach.functions
        if functions:
            return t.Str(max(len(symbol) for symbol, _ in functions) + 1)
        return t.Str(len(func_name(self.instance.attach)) + 1)

    def builtin_args(self, e: n.Identifier) -> t.Type | None:
        return self.args_record(e)

    def builtin_ctx(self, e: n.Identifier) -> t.Type | None:
        return self.context_pointer(e)

    def builtin_kstack(self, e: n.Identifier) -> t.Type | None:
        return t.Stack(e.name == "ustack", self.ctx.options.stack_mode, STACK_LIMIT)

    builtin_ustack = builtin_kstack

    # ---- calls ----
    def call(self, e: n.Call, statement: bool) -> t.Type | None:
        name = e.name
        row = FUNCTIONS.get(name)
        if row is None:
            for arg in e.args:
                self.expr(arg)
            if name in LATER_FUNCTIONS:
                self.error(f"{name}() is not supported yet", e.name_span)
            else:
                close = difflib.get_close_matches(name, sorted([*FUNCTIONS, *LATER_FUNCTIONS]), 1)
                self.error(f"unknown function '{name}'", e.name_span,
                           *([f"did you mean '{close[0]}'?"] if close else []))
            return None
        if row.aggregation:
            self.error(f"{name}() must be assigned to a map, as in @x = {name}(…)", e.span)
            return None
        result = self.checked_call(e, row)
        if isinstance(result, t.Void) and not statement:
            self.error(f"{name}() has no value", e.span)
            return None
        return result

    def aggregation(self, e: n.Call) -> t.Aggregation | None:
        """An aggregation assigned to a map (`@m = hist(n)`): the map's value."""
        result = self.checked_call(e, FUNCTIONS[e.name])
        assert result is None or isinstance(result, t.Aggregation)
        return result

    def checked_call(self, e: n.Call, row: Function) -> t.Type | None:
        """What the row declares (--unsafe, arity, probes), then the function's own checks."""
        if row.unsafe and not self.ctx.options.unsafe:
            self.error(f"{e.name}() {row.unsafe}, so it needs --unsafe", e.name_span)
            return None
        problem = row.arity_error(len(e.args))
        if problem is not None:
            self.error(problem, e.span)
            return None
        if not self._allowed(row.where, f"{e.name}()", e.name_span):
            return None
        if self.instance.attach.pin and e.name in _UNPINNABLE:
            self.error(f"{e.name}() is not supported in a pinned iterator yet: only printf() "
                       "writes to its file", e.name_span)
            return None
        method: Callable[[n.Call], t.Type | None] = getattr(self, "call_" + e.name)
        self.calls.append(e)
        try:
            return method(e)
        finally:
            self.calls.pop()

    def call_printf(self, e: n.Call) -> t.Type | None:
        """printf and its kin (errorf, warnf, system, and cat, which prints the
        file it names when the event is handled): a literal format, then
        arguments that match it."""
        parsed = self._parse_format_call(e)
        if parsed is None:
            return None
        segments, args, arg_types = parsed
        conversions = [s for s in segments if not isinstance(s, str)]
        if len(conversions) != len(args):
            self.error(f"the format has {len(conversions)} conversion"
                       f"{'s' if len(conversions) != 1 else ''} but {len(args)} argument"
                       f"{'s were' if len(args) != 1 else ' was'} given", e.span)
            return None
        ok = True
        for conv, arg, atype in zip(conversions, args, arg_types, strict=True):
            if atype is None:
                ok = False
            elif conv.takes == "int" and not atype.is_integer:
                self.error(f"%{conv.conv} expects an integer, got {atype}", arg.span,
                           "use %s to print any value")
                ok = False
            elif conv.takes == "buffer" and not isinstance(atype, t.Buf):
                self.error(f"%r expects a buffer, got {atype}", arg.span,
                           "make one with buf(p, length)")
                ok = False
            elif isinstance(atype, t.Void):
                self.error("this argument has no value", arg.span)
                ok = False
        if ok and self.instance.attach.pin:
            ok = self._seq_printable(e, conversions, args, arg_types)
        if not ok:
            return None
        location = context = ""
        if e.name in ("errorf", "warnf"):
            location, context = site_location(e.span)
        self._format_site(e, PrintfSite(e.name, segments,
                                        tuple(a for a in arg_types if a is not None),
                                        location, context))
        return t.VOID

    call_errorf = call_warnf = call_system = call_cat = call_printf

    def _seq_printable(self, e: n.Call, conversions: list[Conversion], args: list[n.Expr],
                       arg_types: list[t.Type | None]) -> bool:
        """Whether the kernel formats this printf of a pinned iterator itself
        (bpf_seq_printf writes to the file as it is read): at most
        SEQ_PRINTF_ARGS arguments, integers and strings, conversions without a
        precision or '#'."""
        if len(args) > SEQ_PRINTF_ARGS:
            self.error(f"a printf of a pinned iterator takes at most {SEQ_PRINTF_ARGS} "
                       "arguments (the kernel formats it)", e.span)
            return False
        for conv, arg, atype in zip(conversions, args, arg_types, strict=True):
            unsupported = (conv.conv not in SEQ_PRINTF_CONVERSIONS or conv.precision is not None
                           or "#" in conv.flags or conv.length not in ("", "l", "ll"))
            if unsupported or (conv.conv == "s" and not isinstance(atype, t.Str)):
                self.error(f"%{conv.conv}{' of ' + str(atype) if not unsupported else ''} is "
                           "not supported in a pinned iterator yet: the kernel formats its "
                           "printf", arg.span, "integers with %d %i %u %x %X %c %p, strings "
                           "with %s, flags '-+ 0' and a width")
                return False
        return True

    def _parse_format_call(self, e: n.Call) -> tuple[tuple[str | Conversion, ...], list[n.Expr],
                                                       list[t.Type | None]] | None:
        """A formatting call's format, parsed, its arguments and their types; None
        (the script told) where the format is not a literal or not valid."""
        fmt, *args = e.args
        arg_types = [self.expr(a) for a in args]
        if not isinstance(fmt, n.String):
            self.error(f"{e.name}'s format must be a string literal", fmt.span)
            return None
        if e.name == "system" and not self._without_nul(e, fmt):
            return None
        try:
            return parse_format(_script_text(fmt.value)), args, arg_types
        except FormatError as error:
            self.error(str(error), _format_span(fmt, error.start, error.end))
            return None

    def call_time(self, e: n.Call) -> t.Type | None:
        text = "%H:%M:%S\n"
        if e.args:
            fmt = e.args[0]
            if not isinstance(fmt, n.String):
                self.error("time()'s format must be a string literal", fmt.span)
                return None
            if not self._without_nul(e, fmt):
                return None
            text = _script_text(fmt.value)
        self._format_site(e, PrintfSite("time", (text,), ()))
        return t.VOID

    def _without_nul(self, e: n.Call, fmt: n.String) -> bool:
        """A format handed to C (strftime, a shell command) ends at a NUL byte:
        one inside it is an error rather than a silent cut."""
        if "\0" not in fmt.value:
            return True
        self.error(f"{e.name}()'s format contains a NUL byte (\\0), where C would end it",
                   fmt.span, "leave the \\0 out")
        return False

    def _format_site(self, e: n.Call, site: PrintfSite) -> None:
        self.checked.printf_ids[e] = len(self.checked.printf_sites)
        self.checked.printf_sites.append(site)

    def call_print(self, e: n.Call) -> t.Type | None:
        first = e.args[0]
        if isinstance(first, n.MapAccess) and not first.keys:
            if self.map_info(first.name, first.span) is None:
                return None
            for extra in e.args[1:]:
                if not isinstance(extra, n.Integer):
                    self.error("print()'s top and div must be integer literals", extra.span)
                    return None
            top, div = [a.value for a in e.args[1:] if isinstance(a, n.Integer)] + [0, 0][
                len(e.args) - 1:]
            self._print_site(e, PrintCall(first.name, top, div))
            return t.VOID
        if len(e.args) > 1:
            self.error("print(value) takes one argument; top and div are for maps", e.span)
            return None
        vtype = self.held(self.expr(first), first.span)
        if vtype is None:
            return None
        if not storable(vtype):
            self.error(f"cannot print {vtype}", first.span)
            return None
        self._print_site(e, PrintCall(None, value_type=vtype))
        return t.VOID

    def _print_site(self, e: n.Call, call: PrintCall) -> None:
        self.checked.print_ids[e] = len(self.checked.print_calls)
        self.checked.print_calls.append(call)

    def call_exit(self, e: n.Call) -> t.Type | None:
        if e.args:
            code = self.expr(e.args[0])
            if code is not None and not code.is_integer:
                self.error(f"exit() takes an integer code, got {code}", e.args[0].span)
                return None
        return t.VOID

    def call_assert(self, e: n.Call) -> t.Type | None:
        """assert(cond, msg): when cond does not hold, an error at the call naming
        msg (errorf's), then exit(1) (as bpftrace's stdlib macro)."""
        cond, msg = e.args
        ctype, mtype = self.expr(cond), self.expr(msg)
        if ctype is not None and not (ctype.is_integer or isinstance(ctype, t.Str)):
            self.error(f"assert()'s condition must be an integer or a string, got {ctype}",
                       cond.span)
            return None
        if mtype is not None and not isinstance(mtype, t.Str):
            self.error(f"assert()'s message must be a string, got {mtype}", msg.span)
            return None
        if ctype is None or mtype is None:
            return None
        location, context = site_location(e.span)
        self._format_site(e, PrintfSite("errorf", parse_format("assertion failed: %s"),
                                        (mtype,), location, context))
        return t.VOID

    def _map_argument(self, e: n.Call) -> MapInfo | None:
        arg = e.args[0]
        if not isinstance(arg, n.MapAccess) or arg.keys:
            self.error(f"{e.name}() takes a map, as in {e.name}(@name)", arg.span)
            return None
        return self.map_info(arg.name, arg.span)

    def call_clear(self, e: n.Call) -> t.Type | None:
        self._map_argument(e)
        return t.VOID

    def call_zero(self, e: n.Call) -> t.Type | None:
        return self.call_clear(e)

    def call_delete(self, e: n.Call) -> t.Type | None:
        target = e.args[0]
        if len(e.args) == 2:
            if not isinstance(target, n.MapAccess) or target.keys:
                self.error("delete(@map, key) takes a map first", target.span)
                return None
            target = n.MapAccess(target.name, (e.args[1],), span=target.span.to(e.args[1].span))
            self.checked.delete_targets[e] = target
        if not isinstance(target, n.MapAccess):
            self.error("delete() takes a map element, as in delete(@m[key])", target.span)
            return None
        info = self.map_info(target.name, target.span)
        if info is None:
            return None
        if info.key is not None and not target.keys:
            self.error(f"delete() needs a key: {target.name} is a keyed map", target.span)
            return None
        key = self.key_type(target)
        self._check_key(info, target, key)
        return t.BOOL

    def call_str(self, e: n.Call) -> t.Type | None:
        first = e.args[0]
        text = param_text(first, self.ctx.options.params)  # str($1), str($1 + 1)
        if text is not None:
            return t.Str(len(text) + 1)
        if isinstance(first, n.Binary) and isinstance(first.left, n.Positional) \
                and first.op == "+" and first.left.index > 0:
            index = first.left.index
            params = self.ctx.options.params
            given = len((params[index - 1] if index <= len(params) else "").encode())
            self.error(f"str(${index} + n) takes a number n from 0 to the length of "
                       f"${index} ({given})", first.right.span)
            return None
        arg = self.expr(e.args[0])
        # max_strlen characters and a NUL. A string that fills them may have
        # been cut: it prints with the trailer. A length given to str() counts
        # the NUL (n - 1 characters), and is a cut the user asked for.
        limit = self.ctx.options.max_strlen + 1
        trailer = self.ctx.options.str_trunc_trailer
        if len(e.args) == 2 and not isinstance(e.args[1], n.Integer):
            # str(p, n) with n known at run time: at most max_strlen, as a literal would be
            if self._integer_arg(e.args[1]) is None:
                return None
        elif len(e.args) == 2:
            size = e.args[1]
            assert isinstance(size, n.Integer)
            if size.value <= 0:
                self.error("str()'s length must be positive", size.span)
                return None
            if size.value < limit:
                limit, trailer = size.value, ""
        if arg is None:
            return None
        if isinstance(arg, t.Str):  # str(comm, 4): a literal length shorter than it cuts it
            return t.Str(limit) if len(e.args) == 2 and limit < arg.capacity else arg
        if not arg.is_integer:
            self.error(f"str() takes an address or a string, got {arg}", e.args[0].span)
            return None
        return t.Str(limit, trailer)

    def _string_arg(self, arg: n.Expr, what: str) -> t.Str | None:
        atype = self.expr(arg)
        if atype is None:
            return None
        if not isinstance(atype, t.Str):
            self.error(f"{what} takes a string, got {atype}", arg.span)
            return None
        return atype

    def call_strlen(self, e: n.Call) -> t.Type | None:
        if self._string_arg(e.args[0], "strlen()") is not None:
            return t.UINT64
        return None

    def call_strncmp(self, e: n.Call) -> t.Type | None:
        a = self._string_arg(e.args[0], "strncmp()")
        b = self._string_arg(e.args[1], "strncmp()")
        size = self.constant_integer(e.args[2])
        if size is None or size < 0:
            self.error("strncmp()'s length must be a non-negative integer literal",
                       e.args[2].span)
            return None
        return t.INT64 if a is not None and b is not None else None

    def call_strcontains(self, e: n.Call) -> t.Type | None:
        return t.BOOL if self._substring_args(e, "strcontains()") else None

    def call_strstr(self, e: n.Call) -> t.Type | None:
        return t.INT64 if self._substring_args(e, "strstr()") else None

    def call_globmatch(self, e: n.Call) -> t.Type | None:
        text = self._string_arg(e.args[0], "globmatch()")
        pattern = e.args[1]
        if not isinstance(pattern, n.String):
            self.error("globmatch()'s pattern must be a string literal", pattern.span)
            return None
        if len(glob_tokens(pattern.value.encode("latin-1"))) > GLOB_TOKENS:
            self.error(f"globmatch()'s pattern has more than {GLOB_TOKENS} characters and "
                       "classes", pattern.span)
            return None
        return t.BOOL if text is not None else None

    def _substring_args(self, e: n.Call, what: str) -> bool:
        """Whether the haystack and needle of strcontains()/strstr() are
        strings the verifier can search (a needle known only at run time is
        compared at every position)."""
        haystack = self._string_arg(e.args[0], what)
        needle = self._string_arg(e.args[1], what)
        if haystack is None or needle is None:
            return False
        if not isinstance(e.args[1], n.String) \
                and haystack.capacity * needle.capacity > STRCONTAINS_STEPS:
            self.error(f"{what} of a {haystack} and a {needle} known only at run time "
                       "compares every byte of the needle at every position of the haystack: "
                       "more steps than the kernel's verifier follows", e.span,
                       f"keep the product of their sizes under {STRCONTAINS_STEPS}: give one "
                       "a length, as in str(p, 32), or look for a string literal")
            return False
        return True

    def call_bswap(self, e: n.Call) -> t.Type | None:
        atype = self._integer_arg(e.args[0])
        if atype is None:
            return None
        if isinstance(atype, t.Int):
            return t.Int(atype.bits, False)
        return t.UINT64

    def call_kptr(self, e: n.Call) -> t.Type | None:
        return self._address_space(e, "kernel")

    def call_uptr(self, e: n.Call) -> t.Type | None:
        return self._address_space(e, "user")

    def _address_space(self, e: n.Call, space: str) -> t.Type | None:
        """kptr(p)/uptr(p): p, read from then on as kernel or user memory (by
        `*`, `->` and str(), which reads an integer argument by its call)."""
        atype = self._integer_arg(e.args[0])
        return replace(atype, space=space) if isinstance(atype, t.Pointer) else atype

    def call_container_of(self, e: n.Call) -> t.Type | None:
        """container_of(p, typeof(struct s), m): the address of the struct s
        whose field m (a path: m.n) is at p, as `(struct s *)((uint8 *)p -
        offsetof(struct s, m))` (kept for the lowering)."""
        ptr, kind, member = e.args
        written = n.written_type(kind)
        if written is None or written.pointer_depth or written.array_size is not None \
                or not written.base.startswith(("struct ", "union ")):
            self.error("container_of's second argument is the struct's type, as in "
                       "typeof(struct task_struct)", kind.span)
            return None
        fields = _field_path(member)
        if fields is None:
            self.error("container_of's third argument names the field ptr points to, as in "
                       "container_of(p, typeof(struct s), list)", member.span)
            return None
        span = e.span
        bytes_at = n.Cast(n.TypeName("uint8", 1, None, span=span), ptr, span=span)
        offset = n.Offsetof(n.TypeName(written.base, 0, None, span=kind.span), fields, span=span)
        read = n.Cast(n.TypeName(written.base, 1, None, span=span),
                      n.Binary("-", bytes_at, offset, span=span), span=span)
        rtype = self.expr(read)
        if rtype is not None:
            self.checked.expansions[e] = read
        return rtype

    def call_kfunc_exist(self, e: n.Call) -> t.Type | None:
        name = e.args[0]
        if not isinstance(name, n.String):
            self.error("kfunc_exist() takes a function's name as a string literal", name.span)
            return None
        btf = self.ctx.machine.btf()
        found = btf is not None and btf.find(name.value, "func") is not None
        return self._constant(e, n.Boolean(found, span=e.span))

    def call_memcmp(self, e: n.Call) -> t.Type | None:
        """memcmp(a, b, n): strings or arrays, compared over n bytes, a constant
        no larger than either."""
        sizes = []
        for arg in e.args[:2]:
            atype = self.expr(arg)
            if atype is None:
                return None
            if not isinstance(atype, t.Str | t.Array):
                self.error(f"memcmp() compares strings or arrays, got {atype}", arg.span)
                return None
            sizes.append(atype.capacity if isinstance(atype, t.Str) else atype.c_size)
        count = self.constant_integer(e.args[2])
        if count is None or not 0 < count <= min(sizes):
            self.error(f"memcmp()'s length must be an integer literal from 1 to {min(sizes)}, "
                       "the size of the smaller operand", e.args[2].span)
            return None
        return t.INT64

    def call_static_assert(self, e: n.Call) -> t.Type | None:
        cond, message = e.args
        if not isinstance(message, n.String):
            self.error("static_assert()'s message must be a string literal", message.span)
            return None
        if self.expr(cond) is None:
            return None
        value = self.folded(cond)
        if value is None:
            self.error("static_assert()'s condition must be known when compiling (literals, "
                       "positional parameters, sizeof, offsetof)", cond.span)
        elif not value:
            self.error(message.value, e.span)
        return t.VOID

    def call_fail(self, e: n.Call) -> t.Type | None:
        """fail(fmt, …): an error when compiling, with the arguments (known when
        compiling) formatted, unless the call is in a branch never taken."""
        fmt, *args = e.args
        if not isinstance(fmt, n.String):
            self.error("fail()'s format must be a string literal", fmt.span)
            return None
        values: list[int | str | bytes] = []
        for arg in args:
            if self.expr(arg) is None:
                return None
            value = arg.value if isinstance(arg, n.String) else self.folded(arg)
            if value is None:
                self.error("fail()'s arguments must be known when compiling", arg.span)
                return None
            values.append(value)
        segments = parse_format(fmt.value)
        if sum(not isinstance(s, str) for s in segments) != len(values):
            self.error("fail()'s format and arguments do not match", e.span)
            return None
        if not self.dead:
            from ptrace.runtime.printf import render

            self.error(render(segments, values), e.span)
        return t.VOID

    def call_strcap(self, e: n.Call) -> t.Type | None:
        """strcap(s): the capacity of a string (its buffer, the NUL included) or
        an array (its elements), a constant."""
        arg = self.expr(e.args[0])
        if arg is None:
            return None
        if not isinstance(arg, t.Str | t.Array):
            self.error(f"strcap() takes a string or an array, got {arg}", e.args[0].span)
            return None
        return self._constant(e, n.Integer(arg.capacity if isinstance(arg, t.Str) else arg.count,
                                           "", span=e.span))

    def call_is_array(self, e: n.Call) -> t.Type | None:
        """is_array(v), is_integer(v), …: what the argument's type is, a
        constant true or false; the argument is not evaluated."""
        if e.name == "is_literal":
            value = literal_value(e.args[0]) is not None or \
                isinstance(e.args[0], n.String | n.Boolean)
            return self._constant(e, n.Boolean(value, span=e.span))
        arg = self.expr(e.args[0])
        if arg is None:
            return None
        tests: dict[str, Callable[[t.Type], bool]] = {
            "is_array": lambda a: isinstance(a, t.Array),
            "is_integer": lambda a: isinstance(a, t.Int),
            "is_unsigned_integer": lambda a: isinstance(a, t.Int) and not a.signed,
            "is_ptr": lambda a: isinstance(a, t.Pointer),
            "is_str": lambda a: isinstance(a, t.Str),
        }
        return self._constant(e, n.Boolean(tests[e.name](arg), span=e.span))

    call_is_integer = call_is_unsigned_integer = call_is_ptr = call_is_str = \
        call_is_literal = call_is_array

    def _constant(self, e: n.Call, value: n.Expr) -> t.Type | None:
        """A call checked and lowered as another expression: a constant known
        when compiling, or the block it stands for."""
        self.checked.expansions[e] = value
        return self.expr(value)

    def call_strerror(self, e: n.Call) -> t.Type | None:
        if self._integer_arg(e.args[0]) is not None:
            return t.Formatted(t.FormatKind.STRERROR)
        return None

    def call_cgroup_path(self, e: n.Call) -> t.Type | None:
        """cgroup_path(id[, filter]): the id, named in user space by the cgroup
        hierarchies (those whose name matches the glob `filter`) holding it."""
        if self._integer_arg(e.args[0]) is None:
            return None
        pattern = "*"
        if len(e.args) == 2:
            given = e.args[1]
            if not isinstance(given, n.String):
                self.error("cgroup_path()'s filter must be a string literal", given.span)
                return None
            pattern = _script_text(given.value)
        return t.Formatted(t.FormatKind.CGROUP_PATH, pattern)

    def call_strftime(self, e: n.Call) -> t.Type | None:
        fmt, when = e.args
        if not isinstance(fmt, n.String):
            self.error("strftime()'s format must be a string literal", fmt.span)
            return None
        if not self._without_nul(e, fmt) or self._integer_arg(when) is None:
            return None
        return t.Formatted(t.FormatKind.STRFTIME, _script_text(fmt.value))

    def call_kstack(self, e: n.Call) -> t.Type | None:
        """kstack([mode][, limit]), ustack likewise: mode bpftrace, perf or raw;
        ustack also build_id (each frame as its binary's build id and the file
        offset, for symbolizing later)."""
        mode, limit = self.ctx.options.stack_mode, STACK_LIMIT
        modes = (*STACK_MODES, "build_id") if e.name == "ustack" else STACK_MODES
        for arg in e.args:
            value = self.constant_integer(arg)
            if isinstance(arg, n.Identifier) and arg.name in modes:
                mode = arg.name
            elif value is not None and 1 <= value <= STACK_LIMIT:
                limit = value
            else:
                self.error(f"{e.name}() takes a mode ({', '.join(modes)}) and a frame "
                           f"limit from 1 to {STACK_LIMIT}", arg.span)
                return None
        return t.Stack(e.name == "ustack", mode, limit)

    def call_ustack(self, e: n.Call) -> t.Type | None:
        return self.call_kstack(e)

    def call_ksym(self, e: n.Call) -> t.Type | None:
        if self._integer_arg(e.args[0]) is not None:
            return t.Formatted(t.FormatKind.KSYM)
        return None

    def call_buf(self, e: n.Call) -> t.Type | None:
        """buf(p, n): n bytes at address p (n at most max_strlen); buf(array)."""
        source = e.args[0]
        stype = self.expr(source)
        if stype is None:
            return None
        held = None  # the bytes of an array or string value
        if isinstance(stype, t.Array | t.Str):
            held = stype.element_size * stype.count if isinstance(stype, t.Array) \
                else stype.capacity
        if len(e.args) == 1:
            if held is not None:
                return t.Buf(held)
            self.error(f"buf() of {stype} needs a length, as in buf(p, 16)", e.span)
            return None
        if held is None and not isinstance(stype, t.Pointer | t.Int):
            self.error(f"buf() reads memory at an address, not {stype}", source.span)
            return None
        length = e.args[1]
        if self._integer_arg(length) is None:
            return None
        literal = literal_value(length)
        limit = self.ctx.options.max_strlen if held is None else held
        if literal is not None and not 0 <= literal <= limit:
            self.error(f"buf() reads from 0 to {limit} bytes "
                       f"({'max_strlen' if held is None else stype}), not {literal}",
                       length.span)
            return None
        return t.Buf(literal if literal is not None else limit)

    def call_join(self, e: n.Call) -> t.Type | None:
        """join(argv[, sep]): prints the strings of a NULL-terminated array of
        char pointers (up to JOIN_ARGS of them), separated by `sep` (" ")."""
        array = e.args[0]
        atype = self.expr(array)
        if atype is None:
            return None
        if not isinstance(atype, t.Pointer | t.Int):
            self.error(f"join() takes an array of string pointers (char **), got {atype}",
                       array.span)
            return None
        separator = " "
        if len(e.args) == 2:
            sep = e.args[1]
            if not isinstance(sep, n.String):
                self.error("join()'s separator must be a string literal", sep.span)
                return None
            separator = _script_text(sep.value)
        capacity = min(self.ctx.options.max_strlen, JOIN_ARG_SIZE)
        self._format_site(e, PrintfSite("join", (separator,),
                                        (t.INT64,) + (t.Str(capacity),) * JOIN_ARGS))
        return t.VOID

    def call_ntop(self, e: n.Call) -> t.Type | None:
        """ntop([af,] addr): an IPv4 address from an integer or a 4-byte array, an
        IPv6 one from a 16-byte array; `af` (AF_INET 2, AF_INET6 10) may say which."""
        if len(e.args) == 2 and self._integer_arg(e.args[0]) is None:
            return None
        address = e.args[-1]
        atype = self.expr(address)
        if atype is None:
            return None
        if atype.is_integer or (isinstance(atype, t.Array) and atype.element_size == 1
                                and atype.count in (4, 16)):
            return t.Inet()
        self.error(f"ntop() takes an integer or a uint8[4] or uint8[16] array, got {atype}",
                   address.span)
        return None

    def call_pton(self, e: n.Call) -> t.Type | None:
        """pton("addr"): the address's bytes, uint8[4] (IPv4) or uint8[16] (IPv6)."""
        text = e.args[0]
        packed = _inet_pton(text.value) if isinstance(text, n.String) else None
        if packed is None:
            self.error("pton() takes an IPv4 or IPv6 address as a string literal",
                       text.span, 'as in pton("127.0.0.1") or pton("::1")')
            return None
        self.checked.pton_addresses[e] = packed
        return t.Array(t.Int(8, False), len(packed))

    def call_macaddr(self, e: n.Call) -> t.Type | None:
        """macaddr(p): the six bytes at a pointer or in an array, as 00:1A:2B:3C:4D:5E."""
        atype = self.expr(e.args[0])
        if atype is None:
            return None
        # An array's size is rounded up to 8 bytes; its own bytes are what count.
        if isinstance(atype, t.Pointer) or \
                (isinstance(atype, t.Array) and atype.element_size * atype.count >= 6) or \
                (isinstance(atype, t.Str) and atype.capacity >= 6):
            return t.Formatted(t.FormatKind.MACADDR)
        self.error(f"macaddr() takes a pointer or an array of six bytes, got {atype}",
                   e.args[0].span)
        return None

    def call_len(self, e: n.Call) -> t.Type | None:
        """len(@m): how many entries the map holds; len(kstack), len(ustack):
        how many frames the stack has."""
        target = e.args[0]
        if isinstance(target, n.Identifier | n.Call) and target.name in ("kstack", "ustack"):
            return t.INT64 if isinstance(self.expr(target), t.Stack) else None
        if not isinstance(target, n.MapAccess) or target.keys:
            self.error("len() takes a map or a stack, as in len(@m) or len(ustack)",
                       target.span)
            return None
        info = self.map_info(target.name, target.span)
        if info is not None and info.key is None:
            self.error(f"map {target.name} has no keys to count", target.span)
            return None
        return t.INT64 if info is not None else None

    def call_kaddr(self, e: n.Call) -> t.Type | None:
        """kaddr("name"): the address of a kernel symbol, from /proc/kallsyms.
        An unknown name is an error, but the call keeps its type, so that the
        variable it is assigned to is not reported again at each use."""
        name = e.args[0]
        if not isinstance(name, n.String):
            self.error("kaddr() takes a kernel symbol's name as a string literal", name.span)
            return None
        address = self.ctx.machine.kernel_symbol(name.value)
        if address is None:
            # init_task is in every kernel: missing, the listing has no variables.
            functions_only = self.ctx.machine.kernel_symbol("init_task") is None
            self.error(f"the kernel has no symbol '{name.value}'", name.span,
                       *(["this kernel's /proc/kallsyms lists functions only (it was built "
                          "without CONFIG_KALLSYMS_ALL): kaddr() finds no variable"]
                         if functions_only else []))
        else:
            self.checked.kernel_addresses[e] = address
        return t.Pointer("void", 0, "kernel")

    def call_percpu_kaddr(self, e: n.Call) -> t.Type | None:
        """percpu_kaddr("name"[, cpu]): the address of a per-CPU variable of the
        kernel (a variable of its BTF) on a CPU, or NULL past the last CPU."""
        name = e.args[0]
        if not isinstance(name, n.String):
            self.error("percpu_kaddr() takes a kernel variable's name as a string literal",
                       name.span)
            return None
        if len(e.args) > 1 and self._integer_arg(e.args[1]) is None:
            return None
        btf = self.ctx.machine.btf()
        if btf is None:
            self.error("percpu_kaddr() needs the kernel's BTF, which this machine does not have",
                       e.span)
            return None
        if btf.find(name.value, "var") is None:
            self.error(f"the kernel has no per-CPU variable '{name.value}'", name.span)
            return None
        if self.ctx.machine.kernel_symbol(name.value) is None:
            # The kernel finds the variable's address by name in kallsyms.
            self.error(f"this kernel cannot give the address of '{name.value}': its symbol "
                       "table lists functions only (built without CONFIG_KALLSYMS_ALL), so "
                       "the kernel refuses percpu_kaddr()", name.span)
            return None
        return t.Pointer("uint64", 0, "kernel")

    def call_socket_cookie(self, e: n.Call) -> t.Type | None:
        """socket_cookie(sk): a `struct sock *` the kernel's BTF types (the
        helper takes only such a pointer)."""
        if not self._btf_typed(e):
            return None
        atype = self.expr(e.args[0])
        if atype is not None and not (isinstance(atype, t.Pointer) and atype.btf_id
                                      and _unqualified(atype.pointee) in SOCKET_TYPES):
            self.error(f"socket_cookie() takes a kernel socket (struct sock *), got {atype}",
                       e.args[0].span)
            return None
        return t.UINT64 if atype is not None else None

    def call_skboutput(self, e: n.Call) -> t.Type | None:
        """skboutput(path, skb, length, offset): a struct sk_buff * the kernel's BTF
        types (bpf_skb_output takes only such a pointer), a constant offset."""
        if not self._btf_typed(e):
            return None
        path, skb, length, offset = e.args
        if not isinstance(path, n.String) or not path.value:
            self.error("skboutput() takes the pcap file's path as a string literal", path.span)
            return None
        stype = self.expr(skb)
        if stype is not None and not (isinstance(stype, t.Pointer) and stype.btf_id
                                      and _unqualified(stype.pointee) == "struct sk_buff"):
            self.error(f"skboutput() takes a kernel packet (struct sk_buff *), got {stype}",
                       skb.span)
            return None
        if self._integer_arg(length) is None or stype is None:
            return None
        start = self.constant_integer(offset)
        if start is None or not 0 <= start <= SKB_OUTPUT_MAX:
            self.error(f"skboutput()'s offset must be a constant from 0 to {SKB_OUTPUT_MAX}",
                       offset.span)
            return None
        wire_length = n.Field(skb, "len", True, span=skb.span)
        if self.expr(wire_length) is None:
            return None
        self.checked.skb_outputs[e] = (len(self.checked.skb_sites), wire_length)
        self.checked.skb_sites.append((path.value, start))
        return t.UINT32

    def call_unwatch(self, e: n.Call) -> t.Type | None:
        """unwatch(addr): an address (an integer or a pointer)."""
        atype = self.expr(e.args[0])
        if atype is not None and not (atype.is_integer or isinstance(atype, t.Pointer)):
            self.error(f"unwatch() takes an address, not {atype}", e.args[0].span)
            return None
        return t.VOID if atype is not None else None

    def _btf_typed(self, e: n.Call) -> bool:
        """Whether this probe's program is BTF-typed, as a helper of `e` needs: a
        raw tracepoint is where the kernel's BTF types its event (it is then
        attached as a BTF tracepoint)."""
        attach = self.instance.attach
        if attach.kind != ProbeKind.RAWTRACEPOINT or attach.btf_tracepoint:
            return True
        self.error(f"{e.name}() cannot be used in rawtracepoint:{attach.event}: the kernel's "
                   f"BTF does not type this event (no btf_trace_{attach.event}), so it is "
                   "attached as a plain raw tracepoint", e.name_span)
        return False

    def call_usym(self, e: n.Call) -> t.Type | None:
        """usym(addr): named in user space from the current process's symbols."""
        if self._integer_arg(e.args[0]) is not None:
            return t.Usym()
        return None

    def call_uaddr(self, e: n.Call) -> t.Type | None:
        """uaddr("name"): the address of a function or variable of the probed binary
        in the probed process, typed as a pointer to an integer of the symbol's
        size (as bpftrace types it: 1, 2 or 4 bytes, else 8).

        A PIE or a library is loaded at a different address in each process, so
        the address is the probe's own (bpf_get_func_ip gives it) plus the
        distance from the probe to the symbol in the binary; that distance is
        what compiling records (symbol_offsets)."""
        attach, name = self.instance.attach, e.args[0]
        if not isinstance(name, n.String):
            self.error("uaddr() takes a symbol's name as a string literal", name.span)
            return None
        symbols = self.ctx.machine.binary_symbols(attach.binary) or []
        symbol = next((s for s in symbols if s.name == name.value), None)
        if symbol is None:
            close = difflib.get_close_matches(name.value, [s.name for s in symbols], n=3)
            self.error(f"{attach.binary} has no symbol '{name.value}'", name.span,
                       *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                         if close else []))
            return None
        probe = probe_address(attach, self.ctx.machine.function_symbols(attach.binary) or [])
        self.checked.symbol_offsets[e] = symbol.address - probe
        bits = symbol.size * 8 if symbol.size in (1, 2, 4) else 64
        return t.Pointer(f"int{bits}", 0, "user")

    def call_reg(self, e: n.Call) -> t.Type | None:
        """reg("name"): a register of the probed code, from the probe's pt_regs."""
        name = e.args[0]
        if not isinstance(name, n.String):
            self.error("reg() takes a register's name as a string literal", name.span,
                       'as in reg("ip")')
            return None
        if name.value not in REG_NAMES:
            close = difflib.get_close_matches(name.value, list(REG_NAMES), n=1)
            self.error(f"'{name.value}' is not an x86_64 register", name.span,
                       f"did you mean '{close[0]}'?" if close
                       else "registers: " + ", ".join(REG_NAMES))
            return None
        return t.UINT64

    def call_cgroupid(self, e: n.Call) -> t.Type | None:
        """cgroupid("/sys/fs/cgroup/…"): the id of a cgroup v2 directory (its inode)."""
        path = e.args[0]
        if not isinstance(path, n.String):
            self.error("cgroupid() takes a cgroup's path as a string literal", path.span)
            return None
        inode = self.ctx.machine.file_inode(path.value)
        if inode is None:
            shown = path.value.encode("unicode_escape").decode("ascii")  # a NUL shows as \x00
            self.error(f"no such cgroup: {shown}", path.span,
                       "cgroup v2 directories are under /sys/fs/cgroup")
            return None
        self.checked.cgroup_ids[e] = inode
        return t.UINT64

    def call_getopt(self, e: n.Call) -> t.Type | None:
        """getopt("name"[, default[, "description"]]): the value of `--name[=value]`
        after the program, of the default's type (bool without one)."""
        name, *rest = e.args
        default = rest[0] if rest else n.Boolean(False, span=e.span)
        if not isinstance(name, n.String) or not name.value:
            self.error("getopt() takes the option's name as a string literal", name.span)
            return None
        description = rest[1] if len(rest) == 2 else n.String("", span=e.span)
        if not isinstance(description, n.String):
            self.error("getopt()'s description must be a string literal", description.span)
            return None
        number = literal_value(default) if isinstance(default, n.Integer | n.Unary) else None
        if not isinstance(default, n.Boolean | n.String) and number is None:
            self.error("getopt()'s default must be a literal: a number, a string, true or false",
                       default.span)
            return None
        kind = "bool" if isinstance(default, n.Boolean) else \
            "string" if isinstance(default, n.String) else "integer"
        described = f"--{name.value}" + (f"={kind.upper()}" if kind != "bool" else "")
        self.checked.getopt_help[name.value] = described + (
            f": {_script_text(description.value)}" if description.value else "")
        given = dict(self.ctx.options.named_params)
        text = (given[name.value] or "") if name.value in given else None
        value = _option_value(kind, text, default, number)
        if value is None:
            shown = "--" + name.value + (f"={text}" if text else "")
            self.error(f"{shown}: the program option takes {'a' if kind != 'integer' else 'an'} "
                       f"{kind}" + (" (true, false, 1 or 0)" if kind == "bool" else ""), e.span)
            return None
        self.checked.getopt_values[e] = value
        if isinstance(value, str):
            return t.Str(len(value) + 1)
        if kind == "bool":
            return t.BOOL
        return t.UINT64 if value >= 2**63 else t.INT64

    def call_has_key(self, e: n.Call) -> t.Type | None:
        target = e.args[0]
        if not isinstance(target, n.MapAccess) or target.keys:
            self.error("has_key() takes a map first, as in has_key(@m, key)", target.span)
            return None
        info = self.map_info(target.name, target.span)
        if info is None:
            return None
        if info.key is None:
            self.error(f"{target.name} has no keys", target.span)
            return None
        access = n.MapAccess(target.name, (e.args[1],), span=target.span.to(e.args[1].span))
        self.checked.delete_targets[e] = access
        self._check_key(info, access, self.key_type(access))
        return t.BOOL

    def call_find(self, e: n.Call) -> t.Type | None:
        """find(@m, key, $v): has_key(@m, key), and where it holds `$v = @m[key]`;
        checked and lowered as that block."""
        target, key, variable = e.args
        if not isinstance(variable, n.Variable):
            self.error("find() stores the value in a variable: its third argument is one, "
                       "as in find(@m, key, $v)", variable.span)
            return None
        if not isinstance(target, n.MapAccess) or target.keys:
            self.error("find() takes a map first, as in find(@m, key, $v)", target.span)
            return None
        span = e.span
        found = n.Variable(f"$__found{len(self.checked.expansions)}", span=span)
        block = n.Block((
            n.Let(found.name, None, n.Call("has_key", (target, key), e.name_span, span=span),
                  span=span),
            n.If(found, n.Block((n.Assign(variable, "=", n.MapAccess(target.name, (key,),
                                                                     span=span), span=span),),
                                span=span), None, span=span),
            n.ExprStmt(found, span=span)), ends_in_value=True, span=span)
        return self._constant(e, n.BlockExpr(block, span=span))

    def call_signal(self, e: n.Call) -> t.Type | None:
        sig = e.args[0]
        number = _signal_number(sig)
        if number is None:
            self.error(f"{e.name}() takes a signal name or number, as in {e.name}(\"SIGUSR1\")",
                       sig.span)
            return None
        self.checked.signal_numbers[e] = number
        return t.VOID

    def call_signal_thread(self, e: n.Call) -> t.Type | None:
        return self.call_signal(e)

    # aggregations: their type is the map's value type
    def call_count(self, e: n.Call) -> t.Type | None:
        return t.Count()

    def call_hist(self, e: n.Call) -> t.Type | None:
        bits = 0
        if len(e.args) == 2:
            k = e.args[1]
            if not isinstance(k, n.Integer) or not 0 <= k.value <= 5:
                self.error("hist()'s second argument must be a literal from 0 to 5", k.span)
                return None
            bits = k.value
        return t.Hist(bits) if self._integer_arg(e.args[0]) else None

    def call_lhist(self, e: n.Call) -> t.Type | None:
        values = [self.constant_integer(b) for b in e.args[1:]]  # literals, or $1
        if any(v is None for v in values):
            self.error("lhist()'s min, max and step must be integer literals", e.span)
            return None
        low, high, step = (v if v is not None else 0 for v in values)
        if step <= 0 or high <= low:
            self.error("lhist() needs min < max and step > 0", e.span)
            return None
        if (high - low) // step > 1000:
            self.error("lhist() would have more than 1000 buckets", e.span)
            return None
        return t.Lhist(low, high, step) if self._integer_arg(e.args[0]) else None

    def call_tseries(self, e: n.Call) -> t.Type | None:
        """tseries(n, interval, intervals[, agg]): literal interval (ns, or a
        duration such as 100ms), count of intervals and aggregation."""
        value, interval, intervals, *agg = e.args
        refused = unstable_refused(self.ctx.options, "tseries", "tseries()")
        if refused:
            self.error(refused, e.span)
            return None
        atype = self._integer_arg(value)
        sizes = [literal_value(a) if isinstance(a, n.Integer | n.Unary) else None
                 for a in (interval, intervals)]
        if sizes[0] is None or sizes[0] <= 0:
            self.error("tseries()'s interval must be a positive integer literal, as in 100ms",
                       interval.span)
            return None
        if sizes[1] is None or not 0 < sizes[1] <= TSERIES_MAX_INTERVALS:
            self.error(f"tseries()'s number of intervals must be an integer literal from 1 to "
                       f"{TSERIES_MAX_INTERVALS}", intervals.span)
            return None
        function = ""
        if agg:
            if not isinstance(agg[0], n.String) or agg[0].value not in TSERIES_AGGREGATIONS:
                self.error("tseries()'s aggregation must be one of "
                           f"{', '.join(repr(a) for a in TSERIES_AGGREGATIONS)}", agg[0].span)
                return None
            function = agg[0].value
        clock = self.ctx.options.tseries_clock_map
        if clock:
            read = n.MapAccess(clock, (), span=e.span)
            ctype = self.expr(read)
            if ctype is None or not ctype.is_integer:
                self.error(f"{clock}, the map giving tseries() its time (BPFTRACE_DUMMY_TS_MAP), "
                           "must hold an integer", e.span)
                return None
            self.checked.tseries_clocks[e] = read
        if atype is None:
            return None
        return t.TSeries(sizes[0], sizes[1], function, not is_unsigned(atype))

    def call_sum(self, e: n.Call) -> t.Type | None:
        """sum, min, max, avg and stats of a signed or an unsigned integer."""
        arg = self._integer_arg(e.args[0])
        if arg is None:
            return None
        kinds: dict[str, type[t.Sum | t.Min | t.Max | t.Avg | t.Stats]] = {
            "sum": t.Sum, "min": t.Min, "max": t.Max, "avg": t.Avg, "stats": t.Stats}
        return kinds[e.name](not is_unsigned(arg))

    call_min = call_max = call_avg = call_stats = call_sum

    def _integer_arg(self, arg: n.Expr) -> t.Type | None:
        atype = self.expr(arg)
        if atype is not None and not atype.is_integer:
            self.error(f"{self._argument_name(arg)} must be an integer, not {atype}", arg.span)
            return None
        return atype

    def _argument_name(self, arg: n.Expr) -> str:
        """"str()'s argument 'length'": an argument named by its function and parameter."""
        call = next(c for c in reversed(self.calls) if any(a is arg for a in c.args))
        place = next(i for i, a in enumerate(call.args) if a is arg)
        params = FUNCTIONS[call.name].params
        name = params[place].removesuffix("?") if place < len(params) else "..."
        shown = f"'{name}'" if name != "..." else str(place + 1)
        return f"{call.name}()'s argument {shown}"


TSERIES_AGGREGATIONS = ("avg", "max", "min", "sum")


def _field_path(e: n.Expr) -> tuple[str, ...] | None:
    """`m` or `m.n` as the names of the fields, or None if it is no such path."""
    if isinstance(e, n.Identifier):
        return (e.name,)
    if isinstance(e, n.Field) and not e.arrow:
        base = _field_path(e.base)
        return (*base, e.name) if base is not None else None
    return None
TSERIES_MAX_INTERVALS = 1000  # the map holds this many entries for each key


def _named(arg: n.Expr, names: tuple[str, ...]) -> bool:
    return isinstance(arg, n.Identifier) and arg.name in names


def _option_value(kind: str, text: str | None, default: n.Expr,
                  number: int | None) -> int | str | None:
    """A program option's value from its text on the command line (None: not
    given; "": given without a value), or None if the text does not fit its kind."""
    if kind == "string":
        assert isinstance(default, n.String)
        return default.value if text is None else text.encode().decode("latin-1") or None
    if kind == "integer":
        value = number if text is None else param_integer(text)
        return value if value is not None and -2**63 <= value < 2**64 else None
    if text is None:
        assert isinstance(default, n.Boolean)
        return int(default.value)
    flags = {"": 1, "true": 1, "1": 1, "false": 0, "0": 0}
    return flags.get(text.lower())


def check_named_params(ctx: CompileContext) -> None:
    """The named options after the program are those its getopt() calls read;
    `--help` lists them."""
    known = ctx.checked.getopt_help
    names = [name for name, _ in ctx.options.named_params]
    listing = [known[name] for name in sorted(known)] or ["(none)"]
    if "help" in names and "help" not in known:
        ctx.reporter.error("--help: the program's options are", None, *listing)
        return
    unexpected = [f"--{name}" for name in names if name not in known]
    if unexpected:
        ctx.reporter.error(f"unexpected program option{'s' if len(unexpected) > 1 else ''}: "
                           f"{', '.join(unexpected)}", None,
                           "the program's options: " + ", ".join(
                               f"--{name}" for name in sorted(known)) if known else
                           "the program reads no options (getopt())")


def _inet_pton(text: str) -> bytes | None:
    import socket  # (only for pton(): not at start-up)

    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(family, text)
        except (OSError, ValueError):  # ValueError: a NUL in the text
            continue
    return None



def _signal_number(node: n.Expr) -> int | None:
    if isinstance(node, n.Integer):
        return node.value if 0 < node.value < 65 else None
    if isinstance(node, n.String):
        name = node.value.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        member = getattr(signal_module.Signals, name, None)
        return int(member) if member is not None else None
    return None


def _script_text(value: str) -> str:
    """A string literal's bytes (one char each) as text, for formats and messages."""
    return value.encode("latin-1").decode("utf-8", "surrogateescape")


def _format_span(fmt: n.String, start: int, end: int) -> Span:
    span = fmt.span
    raw = span.source.line(span.line)[span.col: span.end_col - 2] if span.line == span.end_line \
        else ""
    if raw == fmt.value:  # no escapes: offsets in the value are offsets in the source
        return Span(span.source, span.line, span.col + 1 + start, span.line, span.col + 1 + end)
    return span


