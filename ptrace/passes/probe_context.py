"""What a probe's context means, by its kind: `args`, `retval`, `ctx`, the
arguments argN of usdt probes, and the tracepoint fields `args` holds.

The checks are methods of the type checker (`ptrace/passes/check_types.py`),
mixed into it from here; what they ask about a kind is its row in
`ptrace.probe_kinds.KINDS`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from ptrace.ast import nodes as n
from ptrace.diagnostics import Reporter, Span
from ptrace.machine import TracepointField
from ptrace.passes.context import Argument, CompileContext, ProbeInstance, TypeResults
from ptrace.probe_kinds import KINDS, Args, Context, ProbeKind
from ptrace.program import Attach
from ptrace.types import types as t
from ptrace.types.builtins import ARG_REGISTERS
from ptrace.types.kernel import from_btf, struct_id

if TYPE_CHECKING:  # the BTF and DWARF readers are imported only where they are used
    from ptrace.dwarf import Parameter
    from ptrace.elf import Symbol
    from ptrace.types import btf as btf_module

SIGNED_C_TYPES = frozenset({"int", "long", "short", "long long", "signed", "signed int",
                            "s8", "s16", "s32", "s64", "__s8", "__s16", "__s32", "__s64",
                            "pid_t", "ssize_t", "off_t", "loff_t", "clockid_t", "timer_t",
                            "key_serial_t", "int32_t", "int64_t"})


class ProbeContextChecks:
    """The checks of what a probe's context holds, as methods of the checker."""

    ctx: CompileContext
    checked: TypeResults
    instance: ProbeInstance
    reporter: Reporter

    if TYPE_CHECKING:  # the checker's own
        def error(self, message: str, span: Span, *hints: str) -> None: ...

        def kernel_btf(self, span: Span) -> btf_module.Btf | None: ...

        def kernel_pointer(self, name: str, space: str = "kernel") -> t.Pointer | None: ...

    def usdt_arg(self, e: n.Identifier) -> t.Type | None:
        """argN of a usdt probe: typed by its spec in the probe's note."""
        from ptrace.usdt import UsdtError  # (with the ELF reader: for usdt probes only)
        from ptrace.usdt import parse_arg as parse_usdt_arg

        attach = self.instance.attach
        index = int(e.name[3:])
        count = len(attach.usdt_args)
        try:
            if index >= count:
                raise UsdtError(f"it has {count} argument{'s' if count != 1 else ''}"
                                if count else "it has no arguments")
            arg = parse_usdt_arg(attach.usdt_args[index])
            if arg.symbol and arg.symbol not in dict(attach.usdt_symbols):
                raise UsdtError(f"'{attach.usdt_args[index]}' names '{arg.symbol}', which is "
                                f"not a symbol of {attach.binary}")
        except UsdtError as error:
            message = f"cannot read {e.name} of {attach.probe}: {error}"
            if not any(d.message == message and d.span == e.span
                       for d in self.reporter.diagnostics):  # one per site: say it once
                self.error(message, e.span)
            return None
        return t.INT64 if arg.signed else t.UINT64

    def context_pointer(self, e: n.Identifier) -> t.Type | None:
        """`ctx`: the address of the program's context, typed by what it points to:
        an iterator's struct, the registers (kprobes, uprobes, usdt), the kernel's
        perf event data (profile, interval, software, hardware, watchpoint:
        `ctx->regs->ip`); for other probes (tracepoint, rawtracepoint, BEGIN…) an
        untyped address."""
        context = KINDS[self.instance.attach.kind].ctx
        if context == Context.UNTYPED:
            return t.Pointer("void")
        struct = context.value
        if context == Context.ITERATOR:
            struct += self.instance.attach.event
        ctx_type = self.kernel_pointer(struct)
        if ctx_type is None:
            self.error(f"the kernel's BTF has no {struct}", e.span)
        return ctx_type

    def fexit_retval(self, e: n.Identifier) -> t.Type | None:
        from ptrace.types import btf as btf_module

        btf = self.kernel_btf(e.span)
        attach = self.instance.attach
        if btf is None:
            return None
        func = btf.type(attach.btf_id)
        proto = btf.type(btf.resolve(func.type)) if isinstance(func, btf_module.Func) else None
        rtype = from_btf(btf, proto.return_type) \
            if isinstance(proto, btf_module.FuncProto) and proto.return_type else None
        if rtype is None or isinstance(rtype, t.Str | t.Struct):
            self.error(f"{attach.symbol}() returns nothing ptrace can read", e.span)
            return None
        self.checked.arg_positions[e] = len(btf.func_params(attach.symbol) or ())
        return rtype

    def probe_arguments(self, where: Span) -> list[Argument] | None:
        """What `args` holds in this probe: a tracepoint's fields (after the
        common header, which programs cannot read), or the parameters of a raw
        tracepoint or a kernel function (fentry/fexit), from BTF."""
        attach = self.instance.attach
        args = KINDS[attach.kind].args
        if args == Args.FIELDS:
            fmt = self.ctx.machine.tracepoint_format(attach.category, attach.event)
            space = "user" if attach.user_addresses else "kernel"
            return [Argument(f.name, self.tracepoint_field(f, space), f.ctype)
                    for f in (fmt.fields if fmt is not None else ())]
        if args == Args.NONE:
            self.error(f"'args' is not available in {attach.kind} probes", where)
            return None
        if args == Args.DEBUG_INFO:
            return self.user_parameters(where)
        btf = self.kernel_btf(where)
        if btf is None:
            return None
        if args == Args.ARGUMENTS:
            params = raw_tracepoint_params(btf, attach.event)
            if params is None:
                self.error(f"the kernel's BTF does not describe the arguments of "
                           f"{attach.event}", where, "use arg0, arg1, …")
                return None
        else:
            params = btf.func_params(attach.symbol)
            if params is None:
                return None
        return [Argument(name, _readable(from_btf(btf, type_id)), btf.c_name(type_id))
                for name, type_id in params]

    def user_parameters(self, where: Span) -> list[Argument] | None:
        """A user function's parameters (uprobe `args`), from its debug
        information; their types are written as BTF over the script's, once per
        function."""
        attach = self.instance.attach
        key = (attach.binary, attach.symbol)
        found = self.ctx.user_parameters.get(key)
        if found is None:  # (a failure is read again: each checking round reports it)
            found = self.read_user_parameters(where)
            if found is not None:
                self.ctx.user_parameters[key] = found
        return found

    def read_user_parameters(self, where: Span) -> list[Argument] | None:
        from ptrace import dwarf
        from ptrace.debuginfo import function_address

        attach = self.instance.attach
        if not attach.symbol:
            self.error(f"'args' needs the probed function's name; {attach.probe} gives "
                       "an address", where)
            return None
        dirs = self.ctx.options.debuginfo
        address = function_address(attach.binary, attach.symbol, dirs,
                                   self.ctx.machine.function_symbols(attach.binary) or [])
        try:
            info = dwarf.debug_info(attach.binary, dirs)
            params = None if info is None or address is None \
                else info.parameters(address, attach.symbol)
        except dwarf.DwarfError as error:
            self.error(f"cannot read the parameters of {attach.symbol}(): {error}", where)
            return None
        if info is None:
            self.error(f"{attach.binary} has no debug information: 'args' needs it to "
                       f"know the parameters of {attach.symbol}()", where,
                       "build it with -g, or install its debug file (see --debuginfo)")
            return None
        if params is None:
            self.error(f"the debug information of {attach.binary} does not describe "
                       f"{attach.symbol}()", where)
            return None
        from ptrace.types.btf import Btf
        from ptrace.types.btf_writer import BtfWriter

        base = self.ctx.btf()
        types = dwarf.TypeWriter(BtfWriter(base))
        ids = [types.write(p.die) for p in params]
        btf = self.ctx.script_types = Btf.from_bytes(types.writer.blob(), base)
        arguments = []
        for p, type_id, slot in zip(params, ids, _slots(params), strict=True):
            ptype = from_btf(btf, type_id, "user")
            why = _unreachable(p, ptype, slot)
            arguments.append(Argument(p.name, None if why else _readable(ptype, by_address=True),
                                      p.ctype, slot, why))
        return arguments

    def tracepoint_arg(self, e: n.Field) -> t.Type | None:
        """args.name: one of the probe's arguments (raw tracepoints and
        fentry/fexit read it by its index, recorded for codegen)."""
        arguments = self.probe_arguments(e.base.span)
        if arguments is None:
            return None
        names = [a.name for a in arguments]
        if e.name not in names:
            self.unknown_argument(e, names)
            return None
        index = names.index(e.name)
        argument = arguments[index]
        if argument.type is None:
            self.error(self.unreadable_argument(argument), e.span)
            return None
        self.checked.arg_positions[e] = index if argument.position is None else argument.position
        return argument.type

    def unknown_argument(self, e: n.Field, names: list[str]) -> None:
        attach = self.instance.attach
        args = KINDS[attach.kind].args
        if args == Args.ARGUMENTS:
            self.error(f"raw tracepoint {attach.event} has no argument '{e.name}'", e.span,
                       f"its arguments: {', '.join(names)}")
        elif args in (Args.PARAMETERS, Args.DEBUG_INFO):
            self.error(f"{attach.symbol}() has no parameter '{e.name}'", e.span,
                       f"its parameters: {', '.join(names)}")
        else:
            close = difflib.get_close_matches(e.name, names, n=1)
            hints = ([f"did you mean '{close[0]}'?"] if close else []) + (
                [f"fields of {attach.category}:{attach.event}: {', '.join(names)}"]
                if names else [])
            self.error(f"tracepoint {attach.category}:{attach.event} has no field "
                       f"'{e.name}'", e.span, *hints)

    def unreadable_argument(self, argument: Argument) -> str:
        args = KINDS[self.instance.attach.kind].args
        if args == Args.FIELDS:
            return f"field '{argument.name}' has type '{argument.ctype}', which is not " \
                "supported yet"
        what = "argument" if args == Args.ARGUMENTS else "parameter"
        if argument.why:
            return f"{what} '{argument.name}' is a {argument.ctype}, {argument.why}"
        if argument.type is not None:  # read alone, but not held in a record
            return f"{what} '{argument.name}' is a {argument.ctype}, which 'args' cannot " \
                "hold whole yet"
        return f"{what} '{argument.name}' is a {argument.ctype}, which cannot be read yet"

    def tracepoint_field(self, field: TracepointField, space: str) -> t.Type | None:
        """A tracepoint field's type; an enum's field reads as the format says and
        is named as BTF says."""
        ftype = tracepoint_field_type(field.ctype, field.size, field.signed, space,
                                      self.ctx.options.max_strlen)
        if isinstance(ftype, t.Int) and field.ctype.startswith("enum "):
            return self.enum_field(field.ctype, ftype)
        return ftype

    def enum_field(self, ctype: str, read: t.Int) -> t.Int:
        """A tracepoint field of enum type: read as the format says, named as BTF says."""
        btf = self.ctx.btf()
        type_id = struct_id(btf, ctype) if btf is not None else None
        enum = from_btf(btf, type_id) if btf is not None and type_id is not None else None
        if not isinstance(enum, t.Enum):
            return read
        return replace(enum, bits=read.bits, signed=read.signed)


def raw_tracepoint_params(btf: btf_module.Btf, event: str) -> list[tuple[str, int]] | None:
    """A raw tracepoint's arguments, as (name, BTF type id). The tracepoint's
    BTF prototype has no parameter names; its __bpf_trace_ function has (after
    the leading `void *__data`), and an event of a template (DEFINE_EVENT) has
    a __probestub_ function."""
    params = btf.func_params(f"__bpf_trace_{event}") or btf.func_params(f"__probestub_{event}")
    return params[1:] if params is not None else None


def pointer_argument(btf: btf_module.Btf, attach: Attach, index: int) -> bool:
    """Whether a BTF tracepoint's raw argument `index` is a pointer to the
    kernel (its register then holds a BTF-typed pointer, on which the verifier
    allows adding and subtracting only)."""
    from ptrace.types import btf as btf_module

    params = raw_tracepoint_params(btf, attach.event) if attach.btf_tracepoint else None
    return params is not None and index < len(params) \
        and isinstance(btf.type(btf.resolve(params[index][1])), btf_module.Ptr)


def tracepoint_field_type(ctype: str, size: int, signed: bool, space: str,
                          max_strlen: int) -> t.Type | None:
    """The ptrace type of a tracepoint field, from its C type in the format file."""
    if ctype.startswith("__data_loc"):
        return t.Str(max_strlen) if "char" in ctype else None
    array = re.fullmatch(r"(.*?)\[(\d*)\]", ctype)
    if array:
        base = array[1].replace("const ", "").strip()
        if base in ("char", "unsigned char", "signed char"):
            return t.Str(size)
        count = int(array[2]) if array[2] else 0
        if count <= 0 or size % count or size // count not in (1, 2, 4, 8):
            return None
        element = t.Int(size // count * 8, base in SIGNED_C_TYPES or base.startswith(("s", "__s")))
        return t.Array(element, count)
    if ctype.endswith("*"):
        pointee = ctype[:-1].replace("const ", "").strip()
        return t.Pointer(pointee, 0, space)
    if ctype == "bool":
        return t.BOOL
    if size in (1, 2, 4, 8):
        # Syscall tracepoints widen every argument to 8 bytes and mark it
        # unsigned; a signed C type (int dfd) stays signed, as in bpftrace.
        base = ctype.replace("const ", "").strip()
        return t.Int(size * 8, signed or base in SIGNED_C_TYPES)
    return None


def _slots(params: list[Parameter]) -> list[int | None]:
    """Where the x86-64 calling convention passes each parameter of a user
    function (`Argument.position`): an argument register, or its first word on
    the stack; None for a float (in a vector register) and for a value of two
    words in two registers."""
    registers = len(ARG_REGISTERS)
    used = stack = 0
    slots: list[int | None] = []
    for p in params:
        if p.vector:
            slots.append(None)
        elif not p.memory and used + p.words <= registers:
            slots.append(used if p.words == 1 else None)
            used += p.words
        else:  # on the stack; the registers left serve the parameters after it
            slots.append(registers + stack)
            stack += p.words
    return slots


def _unreachable(param: Parameter, ptype: t.Type | None, slot: int | None) -> str:
    """Why a user function's parameter cannot be read where the calling
    convention passes it ("" where it can): a float's vector register is not
    among the registers a uprobe sees, and a struct is read at its address,
    which one passed in registers has not."""
    if param.vector:
        return "which x86-64 passes in a vector register, out of a uprobe's reach"
    if isinstance(ptype, t.Struct) and (slot is None or slot < len(ARG_REGISTERS)):
        return "passed by value in registers, which cannot be read yet"
    return ""


def _readable(atype: t.Type | None, by_address: bool = False) -> t.Type | None:
    """A BTF argument's type, or None where ptrace cannot read it: strings, and
    structs passed by value (unless `by_address`: a user function's struct on
    the stack, read where it lies)."""
    if isinstance(atype, t.Str) or (isinstance(atype, t.Struct) and not by_address):
        return None
    return atype


def probe_address(attach: Attach, functions: list[Symbol]) -> int:
    """The virtual address in its binary of a uprobe or usdt probe."""
    if attach.kind == ProbeKind.USDT or not attach.symbol:
        return attach.address
    # expand_probes found the function among these
    return next(s.address for s in functions if s.name == attach.symbol) + attach.offset


def func_name(attach: Attach) -> str:
    """What `func` gives in a uprobe: the function's name, or its address."""
    return attach.symbol or f"0x{attach.address:x}"


def probe_builtin(attach: Attach) -> str:
    """What `probe` gives outside a syscall dispatch: the probe's full name, with
    BEGIN and END as bpftrace 0.26 names them (begin, end)."""
    if attach.kind in (ProbeKind.BEGIN, ProbeKind.END):
        return attach.kind.value
    return attach.probe


def probe_type(attach: Attach) -> str:
    """What `probetype` gives: the provider's full name, as bpftrace names it
    ("special" for BEGIN, END and self probes)."""
    row = KINDS[attach.kind]
    return row.probetype or row.kind.value
