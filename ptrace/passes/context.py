"""The compile context: the program, the options, and the passes' side tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ptrace.ast import nodes as n
from ptrace.diagnostics import Reporter, Source, Span
from ptrace.machine import Machine
from ptrace.options import Options
from ptrace.printf_format import Conversion
from ptrace.program import Attach
from ptrace.types.kernel import FieldAccess
from ptrace.types.types import Type

if TYPE_CHECKING:  # the BTF reader is imported only by scripts that use kernel types
    from ptrace.types.btf import Btf


@dataclass
class ProbeInstance:
    """One concrete attach target of a probe: it becomes one BPF program.

    A probe with a wildcard has many instances sharing one body; each is
    type-checked on its own (`args` differs between tracepoints).
    """

    probe: n.Probe
    attach: Attach
    index: int
    # expr, let, for, or a block's value that is an if or a block → type
    types: dict[n.Node, Type] = field(default_factory=dict)
    # Each variable's type over the whole probe (all its assignments merged), as
    # the checker's quiet round learned it: what a read of it gives.
    variable_types: dict[str, Type] = field(default_factory=dict)

    def type_of(self, node: n.Expr | n.If | n.Block) -> Type:
        return self.types[node]


@dataclass
class MapInfo:
    """A script map (`@name`): its key and value types, fixed by the first use."""

    name: str
    key: Type | None  # None: a scalar map
    value: Type
    span: Span
    index: int = -1  # the map's index in CompiledProgram.maps, set by allocate_resources


@dataclass(frozen=True, slots=True)
class PrintfSite:
    """A call with a format: printf, errorf, warnf, system (args) or time (none)."""

    kind: str
    segments: tuple[str | Conversion, ...]
    arg_types: tuple[Type, ...]
    location: str = ""  # errorf/warnf: where the call is, "file:line:col"
    context: str = ""  # errorf/warnf: the source line with a marker under the call


@dataclass(frozen=True, slots=True)
class MapDecl:
    """A map declared with `let @m = kind(size);`."""

    kind: str  # hash, lruhash, percpuhash or percpulruhash
    size: int
    span: Span


@dataclass(frozen=True, slots=True)
class PrintCall:
    """A print() call site: a map with top/div, or a value of `value_type`."""

    map_name: str | None
    top: int = 0
    div: int = 0
    value_type: Type | None = None


@dataclass
class TypeResults:
    """What a round of `check_types` decided, in tables keyed by node (each
    probe instance has its own copy of the tree, so a node is in one instance).
    The reporting round's tables are `CompileContext.checked`; the quiet
    round's are dropped. Types themselves are `ProbeInstance.types`."""

    # Calls with a format, and divisions whose divisor may be 0: their printf site.
    printf_ids: dict[n.Node, int] = field(default_factory=dict)
    printf_sites: list[PrintfSite] = field(default_factory=list)
    print_ids: dict[n.Call, int] = field(default_factory=dict)  # print(): its PrintCall
    print_calls: list[PrintCall] = field(default_factory=list)
    # Kernel struct fields and `*p` reads: how to read them.
    field_accesses: dict[n.Expr, FieldAccess] = field(default_factory=dict)
    # `p + i`, `p - q`, `p[i]`, `$p += i`, `@p++`: the size of what p points to.
    pointer_scales: dict[n.Binary | n.Index | n.Assign | n.IncDec, int] = field(
        default_factory=dict)
    tuple_positions: dict[n.Index, int] = field(default_factory=dict)  # `$t[1]`: 1
    sizes: dict[n.Sizeof, int] = field(default_factory=dict)
    offsets: dict[n.Offsetof, int] = field(default_factory=dict)
    enum_values: dict[n.Identifier, int] = field(default_factory=dict)  # enumerators
    # `args.x`: the argument's position (raw tracepoints and fentry/fexit read
    # the ctx slot of that number); fexit `retval`: the slot after the arguments.
    arg_positions: dict[n.Field | n.Identifier, int] = field(default_factory=dict)
    pton_addresses: dict[n.Call, bytes] = field(default_factory=dict)  # pton("::1")
    kernel_addresses: dict[n.Call, int] = field(default_factory=dict)  # kaddr("sym")
    # uaddr("sym"): the symbol's distance from the probe in the binary.
    symbol_offsets: dict[n.Call, int] = field(default_factory=dict)
    cgroup_ids: dict[n.Call, int] = field(default_factory=dict)  # cgroupid("/path")
    signal_numbers: dict[n.Call, int] = field(default_factory=dict)  # signal("KILL")
    unroll_counts: dict[n.Unroll, int] = field(default_factory=dict)
    # `delete(@m, key)` calls: the map element `@m[key]` they delete.
    delete_targets: dict[n.Call, n.MapAccess] = field(default_factory=dict)
    # Builtins that are expressions over others (ppid: curtask->real_parent->tgid).
    expansions: dict[n.Expr, n.Expr] = field(default_factory=dict)
    # getopt("name", …) calls: the option's value; and each option's help line.
    getopt_values: dict[n.Call, int | str] = field(default_factory=dict)
    getopt_help: dict[str, str] = field(default_factory=dict)
    # tseries() calls timed by a map (BPFTRACE_DUMMY_TS_MAP): the read of that map.
    tseries_clocks: dict[n.Call, n.MapAccess] = field(default_factory=dict)
    # skboutput() calls: their site (an index of skb_sites: the pcap file's path
    # and the offset of the first byte written) and the read of the packet's length.
    skb_outputs: dict[n.Call, tuple[int, n.Expr]] = field(default_factory=dict)
    skb_sites: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Argument:
    """One of the values `args` holds: its name, its type (None where ptrace
    cannot read it yet) and its C type, as messages name it."""

    name: str
    type: Type | None
    ctype: str
    # A user function's parameter (uprobe): its argument register (0-5), or
    # 6 + N for the Nth 8-byte word on the stack above the return address.
    position: int | None = None
    why: str = ""  # why it cannot be read, where the C type does not say it


@dataclass
class CompileContext:
    source: Source
    options: Options
    machine: Machine
    program: n.Program
    reporter: Reporter = field(default_factory=Reporter)
    instances: list[ProbeInstance] = field(default_factory=list)
    maps: dict[str, MapInfo] = field(default_factory=dict)
    map_decls: dict[str, MapDecl] = field(default_factory=dict)
    checked: TypeResults = field(default_factory=TypeResults)
    # `let $x;` (no type, no value): the type its first assignment gives, learned
    # in the checker's quiet round so that reads before the assignment are typed
    # too.
    let_types: dict[n.Let, Type] = field(default_factory=dict)
    # The script's struct, union, enum and typedef definitions (define_types).
    script_types: Btf | None = None
    # uprobe `args`: each user function's parameters, from its debug information
    # (their types written into script_types), by (binary, function).
    user_parameters: dict[tuple[str, str], list[Argument]] = field(default_factory=dict)

    def btf(self) -> Btf | None:
        """The types a script sees: its own definitions over the kernel's BTF."""
        return self.script_types or self.machine.btf()
