"""C definitions in a script: struct, union, enum and typedef.

Input: the program's top-level `CStruct`, `CEnum` and `CTypedef` items, in
order. Output: `ctx.script_types`, the definitions as BTF split on top of the
kernel's (standing alone where the kernel has none), so later passes read a
script's types exactly as they read the kernel's: casts, `->`, sizeof,
offsetof, enumerators by name, enum values printed by name.

Layout is C's on x86-64, as gcc makes it: each member at the next offset its
type's alignment allows; a bitfield packed after the previous one unless it
would cross a unit of its declared type, in which case it starts the next
unit; a union as large as its largest member; a size rounded up to the
strictest alignment inside. BTF does not record alignment, so a kernel type
used by value is aligned as its members require (1 for a packed one).

A struct may point to a type defined later, or to itself; it may contain by
value only types already complete. A script's type hides a kernel type of
the same name and kind, and a script's enumerator a kernel enumerator of the
same name, wherever they are looked up by name (see docs/language.md).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptrace.ast import nodes as n
from ptrace.diagnostics import Reporter, Span
from ptrace.passes.context import CompileContext
from ptrace.types.types import NAMED_TYPES, Bool, Int

# The words before a tag: `struct task_struct`, `union u`, `enum e`.
TAG_KINDS = ("struct", "union", "enum")

if TYPE_CHECKING:  # the BTF reader and writer are imported only for scripts that define types
    from ptrace.types import btf as b
    from ptrace.types.btf_writer import BtfWriter

_INT32 = range(-(1 << 31), 1 << 31)
_UINT32 = range(1 << 32)
_INT64 = range(-(1 << 63), 1 << 63)
_UINT64 = range(1 << 64)


@dataclass(frozen=True, slots=True)
class _Layout:
    """A C type's size and alignment."""

    size: int
    align: int


def define_types(ctx: CompileContext) -> None:
    items = [i for i in ctx.program.items if isinstance(i, n.CStruct | n.CEnum | n.CTypedef)]
    if not items:
        return
    from ptrace.types.btf import Btf

    definer = _Definer(ctx.machine.btf(), ctx.reporter)
    for item in items:
        definer.declare(item)
    for item in items:
        definer.define(item)
    if not ctx.reporter.has_errors:
        ctx.script_types = Btf.from_bytes(definer.writer.blob(), definer.kernel,
                                            shadowing=True)


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


class _Definer:
    """Builds the BTF of a script's definitions, one definition at a time."""

    def __init__(self, kernel: b.Btf | None, reporter: Reporter):
        self.kernel = kernel
        self.reporter = reporter
        from ptrace.types.btf_writer import BtfWriter

        self.writer: BtfWriter = BtfWriter(kernel)
        # "struct foo", "union bar", "enum baz": the id reserved for the script's one
        # definition, and that definition.
        self.tags: dict[str, tuple[int, n.CStruct | n.CEnum]] = {}
        self.typedefs: dict[str, tuple[int, n.CTypedef]] = {}
        self.enumerators: dict[str, n.CEnumerator] = {}
        self.integers: dict[str, int] = {}  # INT types by name
        self.integral: set[int] = set()  # script integers and enums: what bitfields may be
        self.layouts: dict[int, _Layout] = {}  # script types, once complete
        self.aliases: dict[int, int] = {}  # script typedefs: the type they name
        self.members: dict[int, list[str]] = {}  # script structs: names, anonymous ones flattened
        self.kernel_layouts: dict[int, _Layout] = {}

    # ---- definitions ----
    def declare(self, node: n.CStruct | n.CEnum | n.CTypedef) -> None:
        """Reserve an id for each named struct, union and enum (nested ones too),
        so that pointers may refer to types defined further down."""
        if isinstance(node, n.CTypedef):
            if not isinstance(node.type, n.TypeName):
                self.declare(node.type)
            return
        if node.name is not None:
            tag = _tag(node)
            first = self.tags.get(tag)
            if first is not None:
                self.error(f"{tag} is defined twice", node.span,
                           f"it was first defined at line {first[1].span.line}")
            else:
                self.tags[tag] = (self.writer.reserve(), node)
        if isinstance(node, n.CStruct):
            for field in node.fields:
                if not isinstance(field.type, n.TypeName):
                    self.declare(field.type)

    def define(self, node: n.CStruct | n.CEnum | n.CTypedef) -> int | None:
        """Define a type; its id, or None if it has errors or is defined twice."""
        if isinstance(node, n.CStruct):
            return self.composite(node)
        if isinstance(node, n.CEnum):
            return self.enum(node)
        return self.typedef(node)

    def own_id(self, node: n.CStruct | n.CEnum) -> int | None:
        """The id reserved for this definition (None for a second definition of a name)."""
        if node.name is None:
            return self.writer.reserve()
        type_id, first = self.tags[_tag(node)]
        return type_id if first is node else None

    def composite(self, node: n.CStruct) -> int | None:
        type_id = self.own_id(node)
        if type_id is None:
            return None
        union = node.kind == "union"
        packed, aligned = self.attributes(node)
        placed: list[tuple[str, int, int, int]] = []  # name, type, bit offset, bitfield size
        names: dict[str, n.CField] = {}
        offset = end = 0  # in bits
        align = aligned
        for field in node.fields:
            member = self.member(field, node)
            if member is None:
                continue
            member_id, layout, member_names = member
            for name in member_names:
                if name in names:
                    self.error(f"{_tag(node)} has two members named '{name}'", field.span,
                               f"the first is at line {names[name].span.line}")
                names.setdefault(name, field)
            bits = field.bits or 0
            member_align = 1 if packed else layout.align
            if union:
                start = 0
            elif bits and (packed or offset // (layout.size * 8)
                           == (offset + bits - 1) // (layout.size * 8)):
                start = offset  # the bitfield fits in the current unit of its type
            else:
                start = _round_up(offset, member_align * 8)
            offset = start + (bits or layout.size * 8)
            end = max(end, offset)
            align = max(align, member_align)
            placed.append((field.name or "", member_id, start, bits))
        size = _round_up(_round_up(end, 8) // 8, align)
        self.writer.composite(type_id, union, node.name or "", size, placed)
        self.layouts[type_id] = _Layout(size, align)
        self.members[type_id] = list(names)
        return type_id

    def attributes(self, node: n.CStruct) -> tuple[bool, int]:
        """Whether a struct is packed, and the alignment `aligned(N)` asks for (1 if none)."""
        packed, aligned = False, 1
        for attribute in node.attributes:
            if attribute.name in ("packed", "__packed__") and attribute.argument is None:
                packed = True
            elif attribute.name in ("aligned", "__aligned__") and attribute.argument \
                    and attribute.argument & (attribute.argument - 1) == 0:
                aligned = max(aligned, attribute.argument)
            elif attribute.name in ("aligned", "__aligned__"):
                self.error("aligned() takes a power of two", attribute.span)
            elif attribute.name != "preserve_access_index":  # no effect on the layout
                self.error(f"attribute '{attribute.name}' is not supported", attribute.span,
                           "ptrace knows packed, aligned(N) and preserve_access_index")
        return packed, aligned

    def member(self, field: n.CField, parent: n.CStruct
               ) -> tuple[int, _Layout, list[str]] | None:
        """A member's type, layout and the names it brings (an anonymous struct's
        members, flattened); None for errors and for a nested definition alone."""
        if field.name is None:
            if isinstance(field.type, n.CStruct | n.CEnum):
                type_id = self.define(field.type)
                if type_id is None or field.type.name is not None \
                        or isinstance(field.type, n.CEnum):
                    return None  # `struct inner { … };` or `enum { … };` only defines it
                return type_id, self.layouts[type_id], self.members[type_id]
            self.error("this member has no name", field.span)
            return None
        resolved = self.resolve(field.type, field.pointer_depth, field.array_sizes, field.span,
                                f"member '{field.name}'", parent)
        if resolved is None:
            return None
        type_id, layout = resolved
        if field.bits is not None and not self.bitfield(field, type_id, layout):
            return None
        return type_id, layout, [field.name]

    def bitfield(self, field: n.CField, type_id: int, layout: _Layout) -> bool:
        if not self.is_integral(type_id) or field.pointer_depth or field.array_sizes:
            self.error(f"bitfield '{field.name}' must have an integer type", field.span)
            return False
        if not 0 < (field.bits or 0) <= layout.size * 8:
            self.error(f"bitfield '{field.name}' must be 1 to {layout.size * 8} bits wide, "
                       f"not {field.bits}", field.span)
            return False
        return True

    def enum(self, node: n.CEnum) -> int | None:
        type_id = self.own_id(node)
        if type_id is None:
            return None
        values: list[tuple[str, int]] = []
        value = 0
        for enumerator in node.values:
            value = enumerator.value if enumerator.value is not None else value
            first = self.enumerators.get(enumerator.name)
            if first is not None:
                self.error(f"enumerator '{enumerator.name}' is defined twice", enumerator.span,
                           f"it was first defined at line {first.span.line}")
            elif value not in _INT64 and value not in _UINT64:
                self.error(f"{enumerator.name} = {value} does not fit in 64 bits",
                           enumerator.span)
            else:
                self.enumerators[enumerator.name] = enumerator
                values.append((enumerator.name, value))
            value += 1
        signed = any(v < 0 for _, v in values)
        if signed and not all(v in _INT64 for _, v in values):
            self.error(f"{_tag(node)} mixes negative values with values above 2**63 - 1",
                       node.span)
        # As gcc: an int (unsigned if no value is negative) if every value fits, else a long.
        size = 4 if all(v in (_INT32 if signed else _UINT32) for _, v in values) else 8
        self.writer.enum(type_id, node.name or "", size, signed, values)
        self.layouts[type_id] = _Layout(size, size)
        self.integral.add(type_id)
        return type_id

    def typedef(self, node: n.CTypedef) -> int | None:
        first = self.typedefs.get(node.name)
        if first is not None:
            self.error(f"typedef '{node.name}' is defined twice", node.span,
                       f"it was first defined at line {first[1].span.line}")
            return None
        # A typedef may name a struct that is not complete yet (`typedef struct s s_t;`).
        resolved = self.resolve(node.type, node.pointer_depth, node.array_sizes, node.span,
                                f"typedef '{node.name}'", None, complete=False)
        if resolved is None:
            return None
        type_id = self.writer.typedef(node.name, resolved[0])
        self.aliases[type_id] = resolved[0]
        self.typedefs[node.name] = (type_id, node)
        return type_id

    # ---- types as written ----
    def resolve(self, spec: n.TypeName | n.CStruct | n.CEnum, stars: int,
                sizes: tuple[int, ...], span: Span, what: str, parent: n.CStruct | None,
                complete: bool = True) -> tuple[int, _Layout] | None:
        """The type `spec`, pointed to `stars` times, in arrays of `sizes` (outermost
        first), and its layout; a type used by value must be complete."""
        base = self.named(spec) if isinstance(spec, n.TypeName) else self.define(spec)
        if base is None:
            return None
        type_id = base
        for _ in range(stars):
            type_id = self.writer.pointer(type_id)
            self.layouts[type_id] = _Layout(8, 8)
        layout = self.layout(type_id)
        if layout is None:
            if complete or sizes:
                self.incomplete(spec, type_id, span, what, parent)
                return None
            return type_id, _Layout(0, 1)
        for position, count in enumerate(reversed(sizes)):
            # `int y[0]`, a flexible array, may be the outermost only
            if count <= 0 and position < len(sizes) - 1:
                self.error(f"{what} is an array of no elements inside an array", span)
                return None
            type_id = self.writer.array(type_id, count)
            layout = self.layouts[type_id] = _Layout(layout.size * count, layout.align)
        return type_id, layout

    def named(self, tn: n.TypeName) -> int | None:
        """A type by its name: a C integer, void, a tag or a typedef name; the script's
        definitions first, then the kernel's."""
        if tn.base == "void":
            return 0
        if tn.base in NAMED_TYPES:
            return self.integer(tn.base)
        kind, _, tag = tn.base.partition(" ")
        if not tag:  # a typedef name
            kind, tag = "typedef", tn.base
        elif kind not in TAG_KINDS:  # words that name no C type ("char char")
            self.error(f"unknown type '{tn.base}'", tn.span)
            return None
        own = self.typedefs.get(tag) if kind == "typedef" else self.tags.get(tn.base)
        if own is not None:
            return own[0]
        found = self.kernel.find(tag, kind) if self.kernel is not None else None
        if found is None:
            known = [*self.typedefs] if kind == "typedef" else \
                [t.partition(" ")[2] for t in self.tags if t.startswith(kind + " ")]
            known += self.kernel.names(kind) if self.kernel is not None else []
            close = difflib.get_close_matches(tag, known, n=3)
            self.error(f"unknown type '{tn.base}'", tn.span,
                       *([f"did you mean {' or '.join(repr(c) for c in close)}?"]
                         if close else []))
        return found

    def integer(self, name: str) -> int:
        type_id = self.integers.get(name)
        if type_id is None:
            itype = NAMED_TYPES[name]
            size = itype.bits // 8 if isinstance(itype, Int) else 1
            signed = isinstance(itype, Int) and itype.signed
            type_id = self.integers[name] = self.writer.int_(
                name, size, signed, char=name == "char", boolean=isinstance(itype, Bool))
            self.layouts[type_id] = _Layout(size, size)
            self.integral.add(type_id)
        return type_id

    def layout(self, type_id: int) -> _Layout | None:
        """Size and alignment of a complete type; None for void and incomplete types."""
        while type_id in self.aliases:
            type_id = self.aliases[type_id]
        if type_id >= self.writer.first_id:
            return self.layouts.get(type_id)
        if type_id == 0 or self.kernel is None:
            return None
        return self.kernel_layout(self.kernel, type_id)

    def kernel_layout(self, kernel: b.Btf, type_id: int) -> _Layout | None:
        found = self.kernel_layouts.get(type_id)
        if found is not None:
            return found
        from ptrace.types import btf as b

        kind = kernel.type(kernel.resolve(type_id))
        if isinstance(kind, b.Int | b.Enum | b.Float):
            found = _Layout(kind.size, kind.size)
        elif isinstance(kind, b.Ptr):
            found = _Layout(8, 8)
        elif isinstance(kind, b.Array):
            element = self.kernel_layout(kernel, kind.elem_type)
            found = element and _Layout(element.size * kind.nelems, element.align)
        elif isinstance(kind, b.Composite):
            found = _Layout(kind.size, self.kernel_alignment(kernel, kind))
        if found is not None:
            self.kernel_layouts[type_id] = found
        return found

    def kernel_alignment(self, kernel: b.Btf, kind: b.Composite) -> int:
        """The strictest alignment of a kernel struct's members; 1 if it is packed
        (a member at an offset its type does not align)."""
        align = 1
        for member in kind.members:
            layout = self.kernel_layout(kernel, member.type)
            if layout is None:
                continue
            if not member.bitfield_size and member.bit_offset % (layout.align * 8):
                return 1
            align = max(align, layout.align)
        return align

    def is_integral(self, type_id: int) -> bool:
        """Whether a type is an integer or an enum under its typedefs (as a bitfield's is)."""
        while type_id in self.aliases:
            type_id = self.aliases[type_id]
        if type_id >= self.writer.first_id or self.kernel is None or not type_id:
            return type_id in self.integral
        from ptrace.types import btf as b

        return isinstance(self.kernel.type(self.kernel.resolve(type_id)), b.Int | b.Enum)

    def incomplete(self, spec: n.TypeName | n.CStruct | n.CEnum, type_id: int, span: Span,
                   what: str, parent: n.CStruct | None) -> None:
        if type_id == 0:
            self.error(f"{what} cannot have type void", span)
            return
        name = spec.base if isinstance(spec, n.TypeName) else _tag(spec)
        hints: list[str] = []
        if parent is not None and parent.name is not None and name == _tag(parent):
            hints.append(f"a struct cannot contain itself; it can point to one: {name} *")
        elif name in self.tags:
            hints.append(f"{name} is defined at line {self.tags[name][1].span.line}, "
                         "after this use")
        elif name in self.typedefs:
            hints.append(f"the type {name} names is not complete before this use")
        else:
            hints.append(f"the kernel's BTF only declares {name}")
        self.error(f"{what} has incomplete type {name}", span, *hints)

    def error(self, message: str, span: Span, *hints: str) -> None:
        self.reporter.error(message, span, *hints)


def _tag(node: n.CStruct | n.CEnum) -> str:
    kind = node.kind if isinstance(node, n.CStruct) else "enum"
    return f"{kind} {node.name}" if node.name else f"{kind} {{...}}"
