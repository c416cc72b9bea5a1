"""Random well-formed programs: what compiles also loads, and computes what C would.

Hypothesis builds small programs from a model of the language (tiny AST
classes below, each able to print itself and to evaluate itself in Python).
Every program the strategies build is well typed, so:

- it must compile (a diagnostic is a bug in the checker or in the strategy),
- what compiles must load: the kernel's verifier accepts every program,
- a BEGIN program without builtins prints what the Python model computes.

The model follows ptrace's rules (docs/language.md): integers are held in 64
bits and wrap; an operation is unsigned when an operand is uint64, except `-`
which is signed; narrow integers are extended by their signedness; division
and modulo by zero give 1, signed division truncates toward zero; shift
amounts are taken modulo 64; a value stored in a narrow variable wraps.
As in C, `>>` is logical only when its left operand is uint64, and
`c ? (uint8)255 : (int8)0` has a type holding both (int16).
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ptrace.runtime import libbcc
from ptrace.runtime.loader import load

from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source, render_all
from ptrace.machine import LiveMachine

MASK = (1 << 64) - 1
TIMEOUT = 20
SETTINGS = settings(deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- types ----

@dataclass(frozen=True)
class Ty:
    """An integer type: bits 1 is bool."""

    bits: int
    signed: bool

    @property
    def name(self) -> str:
        if self.bits == 1:
            return "bool"
        return f"{'' if self.signed else 'u'}int{self.bits}"


INT64, UINT64, BOOL = Ty(64, True), Ty(64, False), Ty(1, False)
CAST_TYPES = [Ty(bits, signed) for bits in (8, 16, 32, 64) for signed in (True, False)] + [BOOL]


def merge(a: Ty, b: Ty) -> Ty:
    """The type of `c ? a : b` and of a variable or map given both (ptrace's t.merge)."""
    if a == b:
        return a
    if a == BOOL or b == BOOL:
        return b if a == BOOL else a
    if UINT64 in (a, b):
        return UINT64
    if a.signed != b.signed:  # int8 and uint8: int16 holds both
        signed_ty, unsigned_ty = (a, b) if a.signed else (b, a)
        if unsigned_ty.bits >= signed_ty.bits:
            return Ty(min(64, 2 * unsigned_ty.bits), True)
        return signed_ty
    return Ty(max(a.bits, b.bits), a.signed or b.signed)


def fit(value: int, ty: Ty) -> int:
    """`value` stored as `ty`: truncated and extended (bool: 0 or 1)."""
    if ty == BOOL:
        return int(value & MASK != 0)
    low = value & ((1 << ty.bits) - 1)
    if ty.signed and low >> (ty.bits - 1):
        low -= 1 << ty.bits
    return low & MASK


def signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


# ---- the model: expressions ----

class Env:
    """Values while the model runs: variables (block scoped) and maps."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, int]] = [{}]
        self.maps: dict[str, dict[object, int]] = {}
        self.out: list[str] = []

    def get(self, name: str) -> int:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise AssertionError(f"model: {name} is not defined")

    def set(self, name: str, value: int) -> None:
        for scope in reversed(self.scopes):
            if name in scope:
                scope[name] = value
                return
        self.scopes[-1][name] = value


class Unknown(Exception):
    """The model cannot evaluate this (a builtin such as pid)."""


@dataclass(frozen=True)
class Expr:
    ty: Ty

    def text(self) -> str:
        raise NotImplementedError

    def eval(self, env: Env) -> int:
        raise NotImplementedError


@dataclass(frozen=True)
class Lit(Expr):
    value: int
    hex: bool

    def text(self) -> str:
        return hex(self.value) if self.hex else str(self.value)

    def eval(self, env: Env) -> int:
        return self.value


@dataclass(frozen=True)
class Var(Expr):
    name: str

    def text(self) -> str:
        return f"${self.name}"

    def eval(self, env: Env) -> int:
        return env.get(self.name)


@dataclass(frozen=True)
class MapRead(Expr):
    name: str
    key: Key | None

    def text(self) -> str:
        return f"@{self.name}" + (f"[{self.key.text()}]" if self.key else "")

    def eval(self, env: Env) -> int:
        key = self.key.eval(env) if self.key else None
        return env.maps.get(self.name, {}).get(key, 0)


@dataclass(frozen=True)
class Cast(Expr):
    operand: Expr

    def text(self) -> str:
        return f"({self.ty.name})({self.operand.text()})"

    def eval(self, env: Env) -> int:
        return fit(self.operand.eval(env), self.ty)


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    operand: Expr

    def text(self) -> str:
        return f"{self.op}({self.operand.text()})"

    def eval(self, env: Env) -> int:
        value = self.operand.eval(env)
        if self.op == "-":
            return -value & MASK
        if self.op == "~":
            return ~value & MASK
        return int(value == 0)


def unary(op: str, operand: Expr) -> Unary:
    ty = BOOL if op == "!" else UINT64 if op == "~" and operand.ty == UINT64 else INT64
    return Unary(ty, op, operand)


ARITH = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]
COMPARE = ["==", "!=", "<", "<=", ">", ">="]
LOGIC = ["&&", "||"]


def arith(op: str, left: int, right: int, unsigned: bool, left_unsigned: bool) -> int:
    """ptrace's arithmetic on 64-bit patterns; `unsigned` when an operand is uint64
    (for `>>`, as in C, only the left one counts: `left_unsigned`)."""
    if op == "+":
        return (left + right) & MASK
    if op == "-":
        return (left - right) & MASK
    if op == "*":
        return (left * right) & MASK
    if op == "&":
        return left & right
    if op == "|":
        return left | right
    if op == "^":
        return left ^ right
    if op == "<<":
        return (left << (right & 63)) & MASK
    if op == ">>":
        return (left if left_unsigned else signed(left)) >> (right & 63) & MASK
    if right == 0:
        return 1
    if unsigned:
        return left // right if op == "/" else left % right
    a, b = signed(left), signed(right)
    quotient = abs(a) // abs(b) * (-1 if (a < 0) != (b < 0) else 1)
    return (quotient if op == "/" else a - b * quotient) & MASK


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr

    def text(self) -> str:
        return f"({self.left.text()} {self.op} {self.right.text()})"

    def eval(self, env: Env) -> int:
        left = self.left.eval(env)
        if self.op in LOGIC:
            if (left != 0) == (self.op == "||"):
                return int(self.op == "||")
            return int(self.right.eval(env) != 0)
        right = self.right.eval(env)
        unsigned = UINT64 in (self.left.ty, self.right.ty)
        if self.op in COMPARE:
            a, b = (left, right) if unsigned else (signed(left), signed(right))
            return int({"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                        ">=": a >= b}[self.op])
        return arith(self.op, left, right, unsigned, self.left.ty == UINT64)


def binary(op: str, left: Expr, right: Expr) -> Binary:
    if op in COMPARE or op in LOGIC:
        return Binary(BOOL, op, left, right)
    unsigned = UINT64 in (left.ty, right.ty) and op != "-"
    return Binary(UINT64 if unsigned else INT64, op, left, right)


@dataclass(frozen=True)
class Ternary(Expr):
    cond: Expr
    then: Expr
    orelse: Expr

    def text(self) -> str:
        return f"({self.cond.text()} ? {self.then.text()} : {self.orelse.text()})"

    def eval(self, env: Env) -> int:
        return (self.then if self.cond.eval(env) else self.orelse).eval(env)


@dataclass(frozen=True)
class Builtin(Expr):
    name: str

    def text(self) -> str:
        return self.name

    def eval(self, env: Env) -> int:
        raise Unknown(self.name)


# Strings: literals, comm, and string scratch variables.

@dataclass(frozen=True)
class Str:
    literal: str | None  # None: a string known only at run time (comm, a variable)
    source: str

    def text(self) -> str:
        return self.source

    def value(self) -> str:
        if self.literal is None:
            raise Unknown(self.source)
        return self.literal


def str_lit(value: str) -> Str:
    return Str(value, f'"{value}"')


@dataclass(frozen=True)
class StrCompare(Expr):
    op: str
    left: Str
    right: Str

    def text(self) -> str:
        return f"({self.left.text()} {self.op} {self.right.text()})"

    def eval(self, env: Env) -> int:
        return int((self.left.value() == self.right.value()) == (self.op == "=="))


@dataclass(frozen=True)
class StrCall(Expr):
    """strlen(s), strncmp(a, b, n) (0 or 1) or strcontains(s, "lit")."""

    func: str
    args: tuple[Str, ...]
    n: int = 0

    def text(self) -> str:
        args = [a.text() for a in self.args] + ([str(self.n)] if self.func == "strncmp" else [])
        return f"{self.func}({', '.join(args)})"

    def eval(self, env: Env) -> int:
        values = [a.value() for a in self.args]
        if self.func == "strlen":
            return len(values[0])
        if self.func == "strncmp":
            return int(values[0][:self.n] != values[1][:self.n])
        return int(values[1] in values[0])


@dataclass(frozen=True)
class Key:
    """A map key: an integer, or a tuple (integer, string literal)."""

    number: Expr
    string: str | None

    def text(self) -> str:
        return self.number.text() + (f', "{self.string}"' if self.string is not None else "")

    def eval(self, env: Env) -> object:
        number = self.number.eval(env)
        return number if self.string is None else (number, self.string)


# ---- the model: statements ----

@dataclass(frozen=True)
class Stmt:
    def lines(self) -> Iterator[str]:
        raise NotImplementedError

    def run(self, env: Env) -> None:
        raise NotImplementedError


def block_lines(head: str, body: tuple[Stmt, ...], tail: str = "}") -> Iterator[str]:
    yield head
    for stmt in body:
        yield from ("  " + line for line in stmt.lines())
    yield tail


def run_block(body: tuple[Stmt, ...], env: Env, variables: dict[str, int] | None = None) -> None:
    env.scopes.append(dict(variables or {}))
    try:
        for stmt in body:
            stmt.run(env)
    finally:
        env.scopes.pop()


@dataclass(frozen=True)
class AssignVar(Stmt):
    """`$x = e;` (a new variable, or one of the same type) or `$x op= e;`."""

    name: str
    ty: Ty
    op: str
    value: Expr

    def lines(self) -> Iterator[str]:
        yield f"${self.name} {self.op} {self.value.text()};"

    def run(self, env: Env) -> None:
        value = self.value.eval(env)
        if self.op != "=":
            value = arith(self.op[:-1], env.get(self.name), value,
                          UINT64 in (self.ty, self.value.ty), self.ty == UINT64)
        env.set(self.name, fit(value, self.ty))


@dataclass(frozen=True)
class IncDec(Stmt):
    name: str
    ty: Ty
    op: str

    def lines(self) -> Iterator[str]:
        yield f"${self.name}{self.op};"

    def run(self, env: Env) -> None:
        env.set(self.name, fit(env.get(self.name) + (1 if self.op == "++" else -1), self.ty))


@dataclass(frozen=True)
class AssignStr(Stmt):
    name: str
    value: Str

    def lines(self) -> Iterator[str]:
        yield f"${self.name} = {self.value.text()};"

    def run(self, env: Env) -> None:
        pass  # string variables are not evaluated by the model


@dataclass(frozen=True)
class StoreMap(Stmt):
    name: str
    key: Key | None
    ty: Ty
    op: str
    value: Expr

    def lines(self) -> Iterator[str]:
        key = f"[{self.key.text()}]" if self.key else ""
        yield f"@{self.name}{key} {self.op} {self.value.text()};"

    def run(self, env: Env) -> None:
        key = self.key.eval(env) if self.key else None
        value = self.value.eval(env)
        entries = env.maps.setdefault(self.name, {})
        if self.op != "=":
            value = arith(self.op[:-1], entries.get(key, 0), value,
                          UINT64 in (self.ty, self.value.ty), self.ty == UINT64)
        entries[key] = fit(value, self.ty)


@dataclass(frozen=True)
class If(Stmt):
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] | None

    def lines(self) -> Iterator[str]:
        if self.orelse is None:
            yield from block_lines(f"if ({self.cond.text()}) {{", self.then)
        else:
            yield from block_lines(f"if ({self.cond.text()}) {{", self.then, "} else {")
            yield from list(block_lines("", self.orelse))[1:]

    def run(self, env: Env) -> None:
        if self.cond.eval(env):
            run_block(self.then, env)
        elif self.orelse is not None:
            run_block(self.orelse, env)


@dataclass(frozen=True)
class Loop(Stmt):
    """`while ($i < n) { …; $i++; }` (with `$i = 0;` before), `unroll(n) { … }` or
    `for ($i : 0..n) { … }`."""

    kind: str
    counter: str
    count: int
    body: tuple[Stmt, ...]

    def lines(self) -> Iterator[str]:
        if self.kind == "while":
            yield f"${self.counter} = 0;"
            yield from block_lines(f"while (${self.counter} < {self.count}) {{",
                                   (*self.body, IncDec(self.counter, INT64, "++")))
        elif self.kind == "unroll":
            yield from block_lines(f"unroll({self.count}) {{", self.body)
        else:
            yield from block_lines(f"for (${self.counter} : 0..{self.count}) {{", self.body)

    def run(self, env: Env) -> None:
        if self.kind == "while":
            env.set(self.counter, 0)
        for i in range(self.count):
            run_block(self.body, env, {self.counter: i} if self.kind == "for" else None)
            if self.kind == "while":
                env.set(self.counter, i + 1)


# printf conversions of integers: how the model renders a 64-bit pattern.
INT_FORMATS: dict[str, Callable[[int], str]] = {
    "%lld": lambda v: str(signed(v)),
    "%llu": str,
    "%llx": lambda v: f"{v:x}",
    "%d": lambda v: str(signed(fit(v, Ty(32, True)))),
    "%u": lambda v: str(v & 0xFFFFFFFF),
    "%x": lambda v: f"{v & 0xFFFFFFFF:x}",
}


@dataclass(frozen=True)
class Printf(Stmt):
    args: tuple[tuple[str, Expr | Str], ...]  # (conversion, argument)

    def lines(self) -> Iterator[str]:
        fmt = " ".join(conv for conv, _ in self.args)
        args = "".join(", " + arg.text() for _, arg in self.args)
        yield f'printf("{fmt}\\n"{args});'

    def run(self, env: Env) -> None:
        parts = []
        for conv, arg in self.args:
            if isinstance(arg, Str):
                parts.append(arg.value())
            else:
                parts.append(INT_FORMATS[conv](arg.eval(env)))
        env.out.append(" ".join(parts))


@dataclass(frozen=True)
class Program:
    probe: str
    body: tuple[Stmt, ...]

    def text(self) -> str:
        tail = (Exit(),) if self.probe == "BEGIN" else ()
        lines = block_lines(f"{self.probe} {{", (*self.body, *tail))
        return "config = { print_maps_on_exit = false }\n" + "\n".join(lines) + "\n"

    def expected(self) -> list[str]:
        env = Env()
        run_block(self.body, env)
        return env.out


@dataclass(frozen=True)
class Exit(Stmt):
    def lines(self) -> Iterator[str]:
        yield "exit();"

    def run(self, env: Env) -> None:
        pass


# ---- strategies ----

@dataclass
class Scope:
    """What the strategy may refer to while building a program (types only)."""

    pure: bool  # only what the model evaluates: no builtins, no comm
    tracepoint: bool
    variables: list[dict[str, Ty]] = field(default_factory=lambda: [{}])
    strings: list[list[str]] = field(default_factory=lambda: [[]])
    maps: dict[str, tuple[Ty, str | None]] = field(default_factory=dict)  # type, key kind
    names: Iterator[int] = field(default_factory=lambda: iter(range(10**6)))

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.names)}"

    def visible(self) -> dict[str, Ty]:
        return {k: v for scope in self.variables for k, v in scope.items()}

    def visible_strings(self) -> list[str]:
        return [s for scope in self.strings for s in scope]


LITERALS = st.one_of(
    st.integers(0, 16),
    st.integers(0, 300),
    st.sampled_from([0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                     0xFFFFFFFF, 0x100000000, 2**63 - 1, 2**63, 2**64 - 1]),
    st.integers(0, 2**64 - 1),
)
STRINGS = st.text(alphabet="abcxyz _0", max_size=8)
BUILTINS = ["pid", "tid", "uid", "cpu", "nsecs"]


@st.composite
def int_expr(draw: st.DrawFn, scope: Scope, depth: int) -> Expr:
    """A well-typed integer expression."""
    leaves = ["lit", "lit", "neg"]
    if scope.visible():
        leaves += ["var", "var"]
    if scope.maps:
        leaves.append("map")
    if not scope.pure:
        leaves += ["builtin"]
        if scope.tracepoint:
            leaves.append("arg")
    kinds = leaves if depth <= 0 else [*leaves, "cast", "unary", "binary", "binary", "binary",
                                       "ternary", "string"]
    kind = draw(st.sampled_from(kinds))
    sub = functools.partial(int_expr, scope, depth - 1)
    if kind == "lit":
        value = draw(LITERALS)
        return Lit(INT64 if value < 2**63 else UINT64, value, draw(st.booleans()))
    if kind == "neg":
        value = draw(st.integers(1, 2**63))
        return unary("-", Lit(INT64 if value < 2**63 else UINT64, value, False))
    if kind == "var":
        name, ty = draw(st.sampled_from(sorted(scope.visible().items())))
        return Var(ty, name)
    if kind == "map":
        name, (ty, key_kind) = draw(st.sampled_from(sorted(scope.maps.items())))
        return MapRead(ty, name, draw(map_key(scope, key_kind)) if key_kind else None)
    if kind == "builtin":
        builtin = draw(st.sampled_from(BUILTINS))
        return Builtin(UINT64 if builtin == "nsecs" else Ty(32, False), builtin)
    if kind == "arg":
        return Builtin(Ty(32, True), "args.__syscall_nr")
    if kind == "cast":
        return Cast(draw(st.sampled_from(CAST_TYPES)), draw(sub()))
    if kind == "unary":
        return unary(draw(st.sampled_from(["-", "~", "!"])), draw(sub()))
    if kind == "binary":
        return binary(draw(st.sampled_from(ARITH + COMPARE + LOGIC)), draw(sub()), draw(sub()))
    if kind == "ternary":
        then, orelse = draw(sub()), draw(sub())
        return Ternary(merge(then.ty, orelse.ty), draw(sub()), then, orelse)
    return draw(string_test(scope))


@st.composite
def str_expr(draw: st.DrawFn, scope: Scope) -> Str:
    kinds = ["lit", "lit"]
    if not scope.pure:
        kinds.append("comm")
        if scope.visible_strings():
            kinds.append("var")
    kind = draw(st.sampled_from(kinds))
    if kind == "lit":
        return str_lit(draw(STRINGS))
    if kind == "comm":
        return Str(None, "comm")
    return Str(None, "$" + draw(st.sampled_from(scope.visible_strings())))


@st.composite
def string_test(draw: st.DrawFn, scope: Scope) -> Expr:
    """An integer computed from strings: a comparison, strlen, strncmp or strcontains."""
    kind = draw(st.sampled_from(["==", "!=", "strlen", "strncmp", "strcontains"]))
    a, b = draw(str_expr(scope)), draw(str_expr(scope))
    if kind in ("==", "!="):
        return StrCompare(BOOL, kind, a, b)
    if kind == "strlen":
        return StrCall(UINT64, "strlen", (a,))
    if kind == "strncmp":
        return StrCall(INT64, "strncmp", (a, b), draw(st.integers(0, 10)))
    return StrCall(BOOL, "strcontains", (a, str_lit(draw(STRINGS.filter(bool)))))


@st.composite
def map_key(draw: st.DrawFn, scope: Scope, kind: str) -> Key:
    """Keys from a small set, so that reads find what writes stored."""
    number: Expr = Lit(INT64, draw(st.integers(0, 3)), False)
    if draw(st.integers(0, 3)) == 0:
        number = Cast(INT64, draw(int_expr(scope, 1)))
    return Key(number, draw(st.sampled_from(["a", "bc"])) if kind == "tuple" else None)


@st.composite
def statements(draw: st.DrawFn, scope: Scope, depth: int, size: int) -> tuple[Stmt, ...]:
    """A block: `size` statements at most, nested `depth` deep at most."""
    out: list[Stmt] = []
    for _ in range(draw(st.integers(1, size))):
        out.append(draw(statement(scope, depth)))
    return tuple(out)


def _block(draw: st.DrawFn, scope: Scope, depth: int,
           counter: tuple[str, Ty] | None = None) -> tuple[Stmt, ...]:
    scope.variables.append(dict([counter]) if counter else {})
    scope.strings.append([])
    try:
        return draw(statements(scope, depth - 1, 3))
    finally:
        scope.variables.pop()
        scope.strings.pop()


@st.composite
def statement(draw: st.DrawFn, scope: Scope, depth: int) -> Stmt:
    kinds = ["new", "new", "store", "printf"]
    # Loop counters are left alone, so loops end.
    variables = {k: v for k, v in scope.visible().items() if not k.startswith("i")}
    integers = variables
    if variables:
        kinds.append("reassign")
    if integers:
        kinds += ["compound", "incdec"]
    if scope.maps:
        kinds.append("map_compound")
    if not scope.pure:
        kinds.append("string")
    if depth > 0:
        kinds += ["if", "loop"]
    kind = draw(st.sampled_from(kinds))
    value = functools.partial(int_expr, scope, 2)
    if kind == "new":
        expr = draw(value())
        name = scope.fresh("v")
        scope.variables[-1][name] = expr.ty
        return AssignVar(name, expr.ty, "=", expr)
    if kind == "reassign":
        name, ty = draw(st.sampled_from(sorted(variables.items())))
        return AssignVar(name, ty, "=", Cast(ty, draw(value())))
    if kind == "compound":
        name, ty = draw(st.sampled_from(sorted(integers.items())))
        op = draw(st.sampled_from(ARITH)) + "="
        return AssignVar(name, ty, op, draw(value()))
    if kind == "incdec":
        name, ty = draw(st.sampled_from(sorted(integers.items())))
        return IncDec(name, ty, draw(st.sampled_from(["++", "--"])))
    if kind == "store":
        return draw(store_map(scope))
    if kind == "map_compound":
        # Compound assignment makes a map int64 (merged with what it held), so
        # only 64-bit maps take one.
        wide = sorted((k, v) for k, v in scope.maps.items() if v[0] in (INT64, UINT64))
        if not wide:
            return draw(store_map(scope))
        name, (ty, key_kind) = draw(st.sampled_from(wide))
        key = draw(map_key(scope, key_kind)) if key_kind else None
        return StoreMap(name, key, ty, draw(st.sampled_from(ARITH)) + "=", draw(value()))
    if kind == "printf":
        return draw(printf(scope))
    if kind == "string":
        name = scope.fresh("s")
        stmt = AssignStr(name, draw(str_expr(scope)))
        scope.strings[-1].append(name)
        return stmt
    if kind == "if":
        cond = draw(int_expr(scope, 2))
        then = _block(draw, scope, depth)
        orelse = _block(draw, scope, depth) if draw(st.booleans()) else None
        return If(cond, then, orelse)
    loop = draw(st.sampled_from(["while", "unroll", "for"]))
    counter = scope.fresh("i")
    if loop == "while":
        scope.variables[-1][counter] = INT64
    body = _block(draw, scope, depth, (counter, INT64) if loop == "for" else None)
    # Unrolled copies once each took stack until LLVM aborted the process
    # (BEGIN { unroll(40) { @a = comm; } }): many copies are drawn on purpose.
    return Loop(loop, counter, draw(st.integers(0, 4) if loop != "unroll" else
                                    st.sampled_from([1, 2, 3, 8])), body)


@st.composite
def store_map(draw: st.DrawFn, scope: Scope) -> Stmt:
    """`@m = e;` or `@m[k] = e;`: to a new map, or (cast to its type) to an existing one."""
    if draw(st.booleans()) and scope.maps:
        name, (ty, key_kind) = draw(st.sampled_from(sorted(scope.maps.items())))
        expr: Expr = Cast(ty, draw(int_expr(scope, 2)))
        key = draw(map_key(scope, key_kind)) if key_kind else None
        return StoreMap(name, key, ty, "=", expr)
    # The key is drawn before the map exists. Bug: a map whose first assignment
    # reads it in its key is "never assigned": BEGIN { @a[@a[0]] = 1; }
    expr = draw(int_expr(scope, 2))
    key_kind = draw(st.sampled_from([None, "int", "tuple"]))
    key = draw(map_key(scope, key_kind)) if key_kind else None
    name = scope.fresh("m")
    scope.maps[name] = (expr.ty, key_kind)
    return StoreMap(name, key, expr.ty, "=", expr)


@st.composite
def printf(draw: st.DrawFn, scope: Scope) -> Printf:
    args: list[tuple[str, Expr | Str]] = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 4)) == 0:
            args.append(("%s", draw(str_expr(scope))))
        else:
            args.append((draw(st.sampled_from(sorted(INT_FORMATS))), draw(int_expr(scope, 3))))
    return Printf(tuple(args))


@st.composite
def programs(draw: st.DrawFn, probe: str, pure: bool = False, depth: int = 2) -> Program:
    scope = Scope(pure=pure, tracepoint=probe.startswith("tracepoint"))
    body = draw(statements(scope, depth, 6))
    if pure:  # something to compare, whatever the body printed
        body = (*body, draw(printf(scope)))
    return Program(probe, body)


# ---- the properties ----

@functools.cache
def libraries() -> libbcc.Libraries:
    return libbcc.load()


def compile_and_load(program: Program) -> None:
    text = program.text()
    try:
        compiled = compile(Source("-e", text), machine=LiveMachine())  # not the cache's
    except CompileError as error:
        pytest.fail(f"a well-typed program did not compile:\n{text}\n"
                    f"{render_all(error.diagnostics)}")
    load(libraries(), compiled).close()


@pytest.mark.bpf
@settings(SETTINGS, max_examples=250)
@given(programs("BEGIN"))
def test_begin_programs_compile_and_load(program: Program) -> None:
    compile_and_load(program)


@pytest.mark.bpf
@settings(SETTINGS, max_examples=200)
@given(programs("tracepoint:syscalls:sys_enter_getppid"))
def test_tracepoint_programs_compile_and_load(program: Program) -> None:
    compile_and_load(program)


@pytest.mark.bpf
@settings(SETTINGS, max_examples=30)
@given(program=programs("BEGIN", pure=True))
def test_begin_programs_print_what_the_model_computes(program: Program,
                                                      ptrace_exe: list[str]) -> None:
    text = program.text()
    expected = program.expected()
    result = subprocess.run([*ptrace_exe, "-e", text], capture_output=True, text=True,
                            timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{text}\n{result.stderr}"
    assert result.stdout.splitlines() == expected, text
