"""The AST: frozen dataclasses named like the grammar rules.

Every node ends with `span`. Passes never modify nodes; a rewrite builds new
ones. What passes learn about nodes (types, map layouts) lives in side tables
keyed by node identity, not on the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ptrace.diagnostics import Span


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """A piece of the script, located by its span."""

    span: Span = field(kw_only=True)  # keyword-only, so it comes last in every node


# ---- types written in scripts ------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class TypeName(Node):
    """A type as written: `uint32`, `unsigned long`, `struct task_struct *`, `int8[4]`.

    `array_size` is None for a type that is not an array, 0 for `int8[]` (a
    cast's array whose size the value gives)."""

    base: str
    pointer_depth: int
    array_size: int | None


# ---- expressions -------------------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class Expr(Node):
    """An expression: it has a value."""


@dataclass(frozen=True, slots=True, eq=False)
class TypeOf(Expr):
    """`typeof(type)` or `typeof(expr)`: the type written, or the type the
    expression has (the expression is not evaluated). Where a type goes, and
    as an argument that passes a type: a macro's, or container_of's."""

    operand: TypeName | Expr


def written_type(node: Node) -> TypeName | None:
    """The type a `typeof(type)` names (through `typeof(typeof(type))`), or
    the type itself; None for the type of an expression."""
    while isinstance(node, TypeOf):
        node = node.operand
    return node if isinstance(node, TypeName) else None


@dataclass(frozen=True, slots=True, eq=False)
class Integer(Expr):
    """An integer literal (`42`, `0x2a`, `1_000`), its value and its text as written."""

    value: int
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class String(Expr):
    """A string literal (`"hi\\n"`), its escapes processed."""

    value: str  # escapes already processed; one char per byte (latin-1)


@dataclass(frozen=True, slots=True, eq=False)
class Boolean(Expr):
    """`true` or `false`."""

    value: bool


@dataclass(frozen=True, slots=True, eq=False)
class Identifier(Expr):
    """A bare name: a builtin (`pid`, `comm`, `args`), an enum value or a macro parameter."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class Variable(Expr):
    """A scratch variable (`$x`) or a positional parameter's name."""

    name: str  # with the `$`


@dataclass(frozen=True, slots=True, eq=False)
class Positional(Expr):
    """`$1`, `$2`, … (index ≥ 1), or `$#` (index 0): the count of parameters."""

    index: int


@dataclass(frozen=True, slots=True, eq=False)
class MapAccess(Expr):
    """A map (`@m`) or one of its keys (`@m[pid, comm]`)."""

    name: str  # with the `@`; "@" is the anonymous map
    keys: tuple[Expr, ...]  # empty for a scalar map


@dataclass(frozen=True, slots=True, eq=False)
class Call(Expr):
    """A call of a builtin function or a macro: `count()`, `str(arg0, 8)`."""

    name: str
    args: tuple[Expr, ...]
    name_span: Span


@dataclass(frozen=True, slots=True, eq=False)
class Sizeof(Expr):
    """`sizeof(type)` or `sizeof(expr)`."""

    operand: TypeName | TypeOf | Expr


@dataclass(frozen=True, slots=True, eq=False)
class Offsetof(Expr):
    """`offsetof(struct x, field.sub)`, or of an expression's struct type
    (`offsetof(*curtask, comm)`; the expression is not evaluated)."""

    type: TypeName | TypeOf | Expr
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Tuple(Expr):
    """A tuple: `(1, "a", comm)`."""

    elements: tuple[Expr, ...]


@dataclass(frozen=True, slots=True, eq=False)
class RecordField(Node):
    """One `name = value` of a record."""

    name: str
    value: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Record(Expr):
    """A record (a tuple with named fields): `(a = 1, b = comm)`."""

    fields: tuple[RecordField, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Binary(Expr):
    """A binary operation: `a + b`, `a && b`, `a == b`, …"""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Unary(Expr):
    """A unary operation: `-x`, `!x`, `~x`, `*p`, `&$x`."""

    op: str  # - + ! ~ * &
    operand: Expr


@dataclass(frozen=True, slots=True, eq=False)
class IncDec(Expr):
    """`x++`, `x--`, `++x` or `--x`."""

    op: str  # ++ or --
    operand: Expr
    prefix: bool


@dataclass(frozen=True, slots=True, eq=False)
class Cast(Expr):
    """A cast: `(uint8)x`, `(struct task_struct *)p`."""

    type: TypeName | TypeOf
    operand: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Index(Expr):
    """An index: `arr[i]`, `p[2]`."""

    base: Expr
    index: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Field(Expr):
    """`base.name`; `name` is a digit string for tuple elements (`t.0`)."""

    base: Expr
    name: str
    arrow: bool  # written `base->name`


@dataclass(frozen=True, slots=True, eq=False)
class Conditional(Expr):
    """`cond ? then : orelse`; `then` is None for `cond ?: orelse`."""

    cond: Expr
    then: Expr | None
    orelse: Expr


@dataclass(frozen=True, slots=True, eq=False)
class BlockExpr(Expr):
    """A block whose last expression is its value: `{ $a = 1; $a + 1 }`."""

    block: Block


@dataclass(frozen=True, slots=True, eq=False)
class IfExpr(Expr):
    """An if/else whose branches end in values: `if (c) { 1 } else { 2 }`."""

    if_: If


# ---- statements ----------------------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class Stmt(Node):
    """A statement."""


@dataclass(frozen=True, slots=True, eq=False)
class Block(Stmt):
    """Statements between braces; `ends_in_value` where the last is the block's value."""

    stmts: tuple[Stmt, ...]
    # The last statement is an expression with no ';' after it, or an `if`
    # with an `else` or a block: the block's value when the block is used as
    # an expression.
    ends_in_value: bool = False

    @property
    def value(self) -> Expr | If | Block | None:
        if not (self.ends_in_value and self.stmts):
            return None
        last = self.stmts[-1]
        if isinstance(last, ExprStmt):
            return last.expr
        return last if isinstance(last, If | Block) else None


@dataclass(frozen=True, slots=True, eq=False)
class ExprStmt(Stmt):
    """An expression used as a statement: `printf(…);`."""

    expr: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Assign(Stmt):
    """An assignment: `@m[k] = v`, `$x += 1`."""

    target: Expr
    op: str  # "=" or a compound operator such as "+="
    value: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Let(Stmt):
    """`let $x: type = value;`: a variable declared, typed or given a value."""

    name: str
    type: TypeName | TypeOf | None
    value: Expr | None


@dataclass(frozen=True, slots=True, eq=False)
class If(Stmt):
    """`if (cond) { … } else …`."""

    cond: Expr
    then: Block
    orelse: Block | If | None


@dataclass(frozen=True, slots=True, eq=False)
class While(Stmt):
    """`while (cond) { … }`."""

    cond: Expr
    body: Block


@dataclass(frozen=True, slots=True, eq=False)
class Unroll(Stmt):
    """`unroll (n) { … }`: the body repeated n times."""

    count: Expr
    body: Block


@dataclass(frozen=True, slots=True, eq=False)
class Range(Node):
    """`start..stop` in a for loop."""

    start: Expr
    stop: Expr


@dataclass(frozen=True, slots=True, eq=False)
class MapRef(Node):
    """A map named as a whole: `@m` in `for ($kv : @m)`."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class For(Stmt):
    """`for ($kv : @m) { … }` or `for ($i : 0..n) { … }`."""

    var: str
    iterable: MapRef | Range
    body: Block


@dataclass(frozen=True, slots=True, eq=False)
class Break(Stmt):
    """`break;`"""


@dataclass(frozen=True, slots=True, eq=False)
class Continue(Stmt):
    """`continue;`"""


@dataclass(frozen=True, slots=True, eq=False)
class Return(Stmt):
    """`return;` or `return value;`"""

    value: Expr | None


@dataclass(frozen=True, slots=True, eq=False)
class Import(Stmt):
    """`import "name"`: at the top level, scripts to compile with this one
    (passes/import_scripts.py); in a block, bpftrace's import of C."""

    name: str  # as written, escapes processed (a path, or a module: stdlib/test)


# ---- top level -------------------------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class AttachPoint(Node):
    """One attach point of a probe, as written: `kprobe:do_sys_open*`."""

    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Probe(Node):
    """A probe: its attach points, predicate and body."""

    attach_points: tuple[AttachPoint, ...]
    predicate: Expr | None
    body: Block


@dataclass(frozen=True, slots=True, eq=False)
class MacroDef(Node):
    """`macro name(params) { … }`."""

    name: str
    params: tuple[str, ...]
    body: Block


@dataclass(frozen=True, slots=True, eq=False)
class MapDecl(Node):
    """A map declared with its kind: `let @m = hash(100);`."""

    name: str
    kind: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ConfigEntry(Node):
    """One `key = value` of a config block."""

    key: str
    value: int | str | bool


@dataclass(frozen=True, slots=True, eq=False)
class ConfigBlock(Node):
    """`config = { key = value; … }`."""

    entries: tuple[ConfigEntry, ...]


@dataclass(frozen=True, slots=True, eq=False)
class CField(Node):
    """A field of a C struct or union defined in the script."""

    type: TypeName | CStruct | CEnum
    name: str | None
    pointer_depth: int
    array_sizes: tuple[int, ...]
    bits: int | None


@dataclass(frozen=True, slots=True, eq=False)
class CStruct(Node):
    """A C struct or union defined in the script."""

    kind: str  # "struct" or "union"
    name: str | None
    fields: tuple[CField, ...]
    attributes: tuple[CAttribute, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class CAttribute(Node):
    """A GCC attribute after a struct's body: `packed`, `aligned(8)`."""

    name: str
    argument: int | None


@dataclass(frozen=True, slots=True, eq=False)
class CEnumerator(Node):
    """One enumerator of a C enum, with its value where written."""

    name: str
    value: int | None


@dataclass(frozen=True, slots=True, eq=False)
class CEnum(Node):
    """A C enum defined in the script."""

    name: str | None
    values: tuple[CEnumerator, ...]


@dataclass(frozen=True, slots=True, eq=False)
class CTypedef(Node):
    """A C typedef in the script."""

    type: TypeName | CStruct | CEnum
    name: str
    pointer_depth: int
    array_sizes: tuple[int, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Preproc(Node):
    """A preprocessor line (`#include`, `#define`), kept as text."""

    text: str


TopLevel = Probe | Import | MacroDef | MapDecl | ConfigBlock | CStruct | CEnum | CTypedef | Preproc


@dataclass(frozen=True, slots=True, eq=False)
class Program(Node):
    """The whole script: its probes, macros, map declarations, C definitions, …"""

    items: tuple[TopLevel, ...]

    @property
    def probes(self) -> tuple[Probe, ...]:
        return tuple(i for i in self.items if isinstance(i, Probe))
