"""Tests for parsing (grammar/ptrace.lark + ptrace.parse): source text → AST nodes.

Expressions are compared through `sexp()`, a Lisp-like rendering written
here, so that a test states the tree it expects in one readable string.
Statements and top-level items are checked field by field.
"""

from __future__ import annotations

import itertools

import pytest

from ptrace.ast import nodes as n
from ptrace.diagnostics import CompileError, Source, Span
from ptrace.parse import parse, parse_program


def program(text: str) -> n.Program:
    return parse_program(Source("test.bt", text))


def only_probe(text: str) -> n.Probe:
    (probe,) = program(text).probes
    return probe


def stmts(text: str) -> tuple[n.Stmt, ...]:
    node = parse(Source("test.bt", text), start="stmts")
    assert isinstance(node, tuple)
    return node


def only_stmt(text: str) -> n.Stmt:
    (stmt,) = stmts(text)
    return stmt


def expr(text: str) -> n.Expr:
    node = parse(Source("test.bt", text), start="expr")
    assert isinstance(node, n.Expr)
    return node


def type_text(tn: n.TypeName) -> str:
    size = f"[{tn.array_size}]" if tn.array_size is not None else ""
    return tn.base + "*" * tn.pointer_depth + size


def sexp(e: n.Node) -> str:
    """An expression as `(op operand …)`, leaves as written."""
    match e:
        case n.Integer(value=value):
            return str(value)
        case n.String(value=value):
            return f'"{value}"'
        case n.Boolean(value=value):
            return "true" if value else "false"
        case n.Identifier(name=name) | n.Variable(name=name):
            return name
        case n.Positional(index=index):
            return f"${index or '#'}"
        case n.MapAccess(name=name, keys=keys):
            return f"{name}[{' '.join(sexp(k) for k in keys)}]" if keys else name
        case n.Binary(op=op, left=left, right=right):
            return f"({op} {sexp(left)} {sexp(right)})"
        case n.Unary(op=op, operand=operand):
            return f"({op} {sexp(operand)})"
        case n.IncDec(op=op, operand=operand, prefix=prefix):
            return f"({'pre' if prefix else 'post'}{op} {sexp(operand)})"
        case n.Cast(type=tn, operand=operand):
            return f"(cast {type_text(tn)} {sexp(operand)})"
        case n.Index(base=base, index=index):
            return f"(index {sexp(base)} {sexp(index)})"
        case n.Field(base=base, name=name, arrow=arrow):
            return f"({'->' if arrow else '.'} {sexp(base)} {name})"
        case n.Call(name=name, args=args):
            return f"(call {' '.join([name, *(sexp(a) for a in args)])})"
        case n.Tuple(elements=elements):
            return f"(tuple {' '.join(sexp(x) for x in elements)})"
        case n.Record(fields=fields):
            return f"(record {' '.join(f'{f.name}={sexp(f.value)}' for f in fields)})"
        case n.Conditional(cond=cond, then=None, orelse=orelse):
            return f"(?: {sexp(cond)} {sexp(orelse)})"
        case n.Conditional(cond=cond, then=then, orelse=orelse) if then is not None:
            return f"(? {sexp(cond)} {sexp(then)} {sexp(orelse)})"
        case n.Sizeof(operand=n.TypeName() as tn):
            return f"(sizeof {type_text(tn)})"
        case n.Sizeof(operand=operand):
            return f"(sizeof {sexp(operand)})"
        case n.Offsetof(type=tn, fields=fields):
            return f"(offsetof {type_text(tn)} {'.'.join(fields)})"
    raise AssertionError(f"sexp() does not render {type(e).__name__}")


def span(node: n.Node) -> tuple[int, int, int, int]:
    s = node.span
    return (s.line, s.col, s.end_line, s.end_col)


# ---- operators and precedence ------------------------------------------------

# Binary operator levels from the loosest to the tightest binding, as in C.
LEVELS = [["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", "<=", ">", ">="],
          ["<<", ">>"], ["+", "-"], ["*", "/", "%"]]
ADJACENT = [(low, high) for looser, tighter in itertools.pairwise(LEVELS)
            for low in looser for high in tighter]
SAME_LEVEL = [(a, b) for level in LEVELS for a in level for b in level]


@pytest.mark.parametrize(("low", "high"), ADJACENT)
def test_tighter_operator_binds_first(low: str, high: str) -> None:
    assert sexp(expr(f"a {low} b {high} c")) == f"({low} a ({high} b c))"
    assert sexp(expr(f"a {high} b {low} c")) == f"({low} ({high} a b) c)"


@pytest.mark.parametrize(("first", "second"), SAME_LEVEL)
def test_operators_of_one_level_associate_left(first: str, second: str) -> None:
    assert sexp(expr(f"a {first} b {second} c")) == f"({second} ({first} a b) c)"


def test_loosest_and_tightest_levels() -> None:
    assert sexp(expr("a || b * c")) == "(|| a (* b c))"
    assert sexp(expr("a * b || c")) == "(|| (* a b) c)"


def test_operators_without_spaces() -> None:
    assert sexp(expr("a<-1")) == "(< a (- 1))"
    assert sexp(expr("a<<1>>2")) == "(>> (<< a 1) 2)"
    assert sexp(expr("a&&b&c")) == "(&& a (& b c))"
    assert sexp(expr("a||b|c")) == "(|| a (| b c))"
    assert sexp(expr("a - -1")) == "(- a (- 1))"
    assert sexp(expr("a-->b")) == "(> (post-- a) b)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a ? b : c", "(? a b c)"),
        ("a ? b : c ? d : e", "(? a b (? c d e))"),
        ("a ? b ? c : d : e", "(? a (? b c d) e)"),
        ("a || b ? c + 1 : d", "(? (|| a b) (+ c 1) d)"),
        ("$x ?: 3", "(?: $x 3)"),
        ("a ?: b ?: c", "(?: a (?: b c))"),
    ],
)
def test_conditional(text: str, expected: str) -> None:
    assert sexp(expr(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-a", "(- a)"),
        ("+a", "(+ a)"),
        ("!a", "(! a)"),
        ("~a", "(~ a)"),
        ("*a", "(* a)"),
        ("&a", "(& a)"),
        ("- -a", "(- (- a))"),
        ("!~a", "(! (~ a))"),
        ("*&a", "(* (& a))"),
        ("++$i", "(pre++ $i)"),
        ("--$i", "(pre-- $i)"),
        ("$i++", "(post++ $i)"),
        ("@c--", "(post-- @c)"),
        ("-a * b", "(* (- a) b)"),
        ("-a[1]", "(- (index a 1))"),
        ("!$x++", "(! (post++ $x))"),
        ("*p->f", "(* (-> p f))"),
        ("&s.f", "(& (. s f))"),
        ("a.b->c[1].d", "(. (index (-> (. a b) c) 1) d)"),
        ("t.0.1", "(. (. t 0) 1)"),
        ("f(1)[2]", "(index (call f 1) 2)"),
        ("(uint32)a", "(cast uint32 a)"),
        ("(uint8)-1", "(cast uint8 (- 1))"),
        ("(int8)a + b", "(+ (cast int8 a) b)"),
        ("(int8)a[0]", "(cast int8 (index a 0))"),
        ("-(uint32)$x++", "(- (cast uint32 (post++ $x)))"),
        ("(uint16)(int8)a", "(cast uint16 (cast int8 a))"),
        ("(unsigned long)a", "(cast unsigned long a)"),
        ("(const char *)a", "(cast char* a)"),
        ("(struct task_struct *)curtask", "(cast struct task_struct* curtask)"),
        ("(struct foo **)a", "(cast struct foo** a)"),
        ("(int8[4])a", "(cast int8[4] a)"),
        ("(uint8[])a", "(cast uint8[0] a)"),  # 0: the size comes from the value
        ("(a) - 1", "(- a 1)"),
        ("(a) * b", "(* a b)"),
    ],
)
def test_unary_cast_and_postfix(text: str, expected: str) -> None:
    assert sexp(expr(text)) == expected


# ---- primaries -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(1)", "1"),
        ("((1))", "1"),
        ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
        ("()", "(tuple )"),
        ("(1,)", "(tuple 1)"),
        ("(1, 2)", "(tuple 1 2)"),
        ("(1, 2,)", "(tuple 1 2)"),
        ('(1, "a", (2, 3))', '(tuple 1 "a" (tuple 2 3))'),
        ("(a = 1)", "(record a=1)"),
        ("(a = 1, b = comm)", "(record a=1 b=comm)"),
        ("(a = 1, b = 2,)", "(record a=1 b=2)"),
    ],
)
def test_parentheses_tuples_and_records(text: str, expected: str) -> None:
    assert sexp(expr(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@x", "@x"),
        ("@", "@"),
        ("@x[1]", "@x[1]"),
        ("@[comm]", "@[comm]"),
        ('@x[pid, "a", $y]', '@x[pid "a" $y]'),
        ("@x[(1, 2)]", "@x[(tuple 1 2)]"),
        ("@x[@y[1]]", "@x[@y[1]]"),
        ("@x[1][2]", "(index @x[1] 2)"),
        ("@x.f", "(. @x f)"),
    ],
)
def test_map_access(text: str, expected: str) -> None:
    assert sexp(expr(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("f()", "(call f)"),
        ("count()", "(call count)"),
        ("str(args.filename, 16)", "(call str (. args filename) 16)"),
        ('printf("%d %s", pid, comm)', '(call printf "%d %s" pid comm)'),
        ("f(g(1), (2, 3))", "(call f (call g 1) (tuple 2 3))"),
        ("f(a ? b : c)", "(call f (? a b c))"),
        ("sizeof(struct foo)", "(sizeof struct foo)"),
        ("sizeof(uint32)", "(sizeof uint32)"),
        ("sizeof($x + 1)", "(sizeof (+ $x 1))"),
        ("offsetof(struct foo, a)", "(offsetof struct foo a)"),
        ("offsetof(struct foo, a.b.c)", "(offsetof struct foo a.b.c)"),
    ],
)
def test_calls(text: str, expected: str) -> None:
    assert sexp(expr(text)) == expected


def test_call_keeps_the_span_of_its_name() -> None:
    call = expr("  count(1, 2)")
    assert isinstance(call, n.Call)
    assert (call.name_span.line, call.name_span.col, call.name_span.end_col) == (1, 3, 8)
    assert span(call) == (1, 3, 1, 14)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", "true"),
        ("false", "false"),
        ("pid", "pid"),
        ("$x", "$x"),
        ("$1", "$1"),
        ("$10", "$10"),
        ("$#", "$#"),
        ("truex", "truex"),
        ("if_x", "if_x"),
        ('"a b"', '"a b"'),
    ],
)
def test_leaves(text: str, expected: str) -> None:
    assert sexp(expr(text)) == expected


def test_positional_indexes() -> None:
    assert [e.index for e in map(expr, ["$1", "$22", "$#"]) if isinstance(e, n.Positional)] \
        == [1, 22, 0]


# ---- literals --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("1_000", 1000),
        ("1_000_000", 1_000_000),
        ("0x1f", 31),
        ("0X1F", 31),
        ("0x1_f", 31),
        ("0b101", 5),
        ("0B1_0", 2),
        ("017", 15),
        ("1e6", 1_000_000),
        ("2E3", 2000),
        ("10ns", 10),
        ("10us", 10_000),
        ("10ms", 10_000_000),
        ("10s", 10_000_000_000),
        ("2m", 120_000_000_000),
        ("1h", 3_600_000_000_000),
        ("1d", 86_400_000_000_000),
        ("5U", 5),
        ("5UL", 5),
        ("5ull", 5),
        ("5LL", 5),
        ("5lu", 5),
        ("0x10UL", 16),
        ("18446744073709551615", 2**64 - 1),
    ],
)
def test_integer_literals(text: str, value: int) -> None:
    node = expr(text)
    assert isinstance(node, n.Integer)
    assert (node.value, node.text) == (value, text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('""', ""),
        ('"abc"', "abc"),
        (r'"a\nb"', "a\nb"),
        (r'"\t\r\\"', "\t\r\\"),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"\x41\x4a"', "AJ"),
        (r'"\101\0"', "A\0"),
        (r'"\e[0m"', "\x1b[0m"),
        (r'"a/b"', "a/b"),
        ('"// not a comment"', "// not a comment"),
    ],
)
def test_string_literals(text: str, value: str) -> None:
    node = expr(text)
    assert isinstance(node, n.String)
    assert node.value == value


def test_bad_escape_is_reported_at_the_escape() -> None:
    with pytest.raises(CompileError) as caught:
        program('BEGIN { printf("bad \\q"); }')
    (diagnostic,) = caught.value.diagnostics
    assert "\\q" in diagnostic.message
    assert diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.col) == (1, 21)


def test_bad_octal_literal_is_a_diagnostic() -> None:
    with pytest.raises(CompileError) as caught:
        program("BEGIN { @x = 09; }")
    (diagnostic,) = caught.value.diagnostics
    assert "09" in diagnostic.message
    assert diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.col, diagnostic.span.end_col) == (1, 14, 16)


# ---- probes ------------------------------------------------------------------------

def test_probe_with_several_attach_points() -> None:
    probe = only_probe("tracepoint:syscalls:sys_enter_openat, kprobe:vfs_*,BEGIN { }")
    assert [a.text for a in probe.attach_points] == [
        "tracepoint:syscalls:sys_enter_openat", "kprobe:vfs_*", "BEGIN"]
    assert probe.predicate is None
    assert probe.body.stmts == ()


@pytest.mark.parametrize(
    "text",
    [
        "BEGIN", "END", "begin", "end", "interval:s:1", "i:ms:10", "profile:hz:99",
        "tracepoint:syscalls:sys_enter_*", "t:sched:sched_switch", "kprobe:f+16",
        "uprobe:/bin/bash:readline", 'uprobe:"/path with space/x":f',
        "tracepoint:sched:sched_process_[ef]*",
    ],
)
def test_attach_point_is_kept_as_written(text: str) -> None:
    (point,) = only_probe(text + " { }").attach_points
    assert point.text == text


def test_a_probe_may_be_named() -> None:
    first, second = program("start=BEGIN { } tick=interval:s:1, t:a:b { }").probes
    assert [p.text for p in first.attach_points] == ["BEGIN"]
    assert [p.text for p in second.attach_points] == ["interval:s:1", "t:a:b"]


def test_probes_need_no_white_space() -> None:
    items = program("BEGIN{}END{}").probes
    assert [p.attach_points[0].text for p in items] == ["BEGIN", "END"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/pid / 2 == 1/", "(== (/ pid 2) 1)"),
        ("/pid/2 == 1/", "(== (/ pid 2) 1)"),
        ("/a / b / c/", "(/ (/ a b) c)"),
        ("/pid/", "pid"),
        ('/comm == "a/b"/', '(== comm "a/b")'),
        ('/comm == "{}"/', '(== comm "{}")'),
        ("/$1 > 0 && !(pid == 1)/", "(&& (> $1 0) (! (== pid 1)))"),
        ("/@x[pid] != 0/", "(!= @x[pid] 0)"),
    ],
)
def test_predicate_is_an_expression(text: str, expected: str) -> None:
    probe = only_probe(f"tracepoint:syscalls:sys_enter_openat {text} {{ @x[pid] = 1; }}")
    assert probe.predicate is not None
    assert sexp(probe.predicate) == expected
    assert len(probe.body.stmts) == 1


def test_predicate_spans_are_positions_in_the_script() -> None:
    probe = only_probe("\nBEGIN /pid / 2 == 1/ { }")
    predicate = probe.predicate
    assert isinstance(predicate, n.Binary)
    assert span(predicate) == (2, 8, 2, 20)
    assert span(predicate.left) == (2, 8, 2, 15)
    assert span(predicate.right) == (2, 19, 2, 20)


def test_error_inside_a_predicate_is_located_in_the_script() -> None:
    with pytest.raises(CompileError) as caught:
        program("BEGIN\n  /pid == / { }")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.col) == (2, 11)


# ---- statements ---------------------------------------------------------------------

def test_start_rule_stmts_gives_a_tuple_of_statements() -> None:
    assert stmts("") == ()
    assert stmts(";;") == ()
    result = stmts("@x = 1; $y = 2; print(@x)")
    assert [type(s) for s in result] == [n.Assign, n.Assign, n.ExprStmt]
    (last,) = stmts("print(@x);")
    assert isinstance(last, n.ExprStmt) and sexp(last.expr) == "(call print @x)"


@pytest.mark.parametrize("op", ["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="])
@pytest.mark.parametrize("target", ["$x", "@x", "@x[1, 2]"])
def test_assignment_operators(op: str, target: str) -> None:
    stmt = only_stmt(f"{target} {op} 1 + 2")
    assert isinstance(stmt, n.Assign)
    assert stmt.op == op
    assert sexp(stmt.target) == sexp(expr(target))
    assert sexp(stmt.value) == "(+ 1 2)"


def test_let_with_and_without_types() -> None:
    typed, bare, declared, pointer, text = stmts(
        "let $a: uint32 = 5; let $b = comm; let $c; let $p: struct task_struct *; "
        "let $s: string")
    assert isinstance(typed, n.Let) and typed.name == "$a"
    assert typed.type is not None and type_text(typed.type) == "uint32"
    assert typed.value is not None and sexp(typed.value) == "5"
    assert isinstance(bare, n.Let) and bare.type is None
    assert bare.value is not None and sexp(bare.value) == "comm"
    assert isinstance(declared, n.Let) and (declared.type, declared.value) == (None, None)
    assert isinstance(pointer, n.Let) and pointer.type is not None
    assert (pointer.type.base, pointer.type.pointer_depth) == ("struct task_struct", 1)
    assert isinstance(text, n.Let) and text.type is not None and text.type.base == "string"


def test_typeof_of_a_type_or_an_expression() -> None:
    let_type, let_expr, cast = stmts(
        "let $a: typeof(uint8) = 1; let $b: typeof($a + 1); $c = (typeof(struct task_struct *))0")
    assert isinstance(let_type, n.Let) and isinstance(let_type.type, n.TypeOf)
    assert isinstance(let_type.type.operand, n.TypeName)
    assert let_type.type.operand.base == "uint8"
    assert isinstance(let_expr, n.Let) and isinstance(let_expr.type, n.TypeOf)
    assert sexp(let_expr.type.operand) == "(+ $a 1)"
    assert isinstance(cast, n.Assign) and isinstance(cast.value, n.Cast)
    assert isinstance(cast.value.type, n.TypeOf)
    assert isinstance(cast.value.type.operand, n.TypeName)
    assert type_text(cast.value.type.operand) == "struct task_struct*"
    sizeof = expr("sizeof(typeof($x))")
    assert isinstance(sizeof, n.Sizeof) and isinstance(sizeof.operand, n.TypeOf)


def test_a_name_where_no_expression_fits_is_a_type() -> None:
    """`size_t *)` or `(uint64_t)1` cannot be expressions: the name is a type's."""
    let, pointer_cast, cast = stmts("let $b: typeof(size_t *) = 0; $p = (pid_t * *)0; "
                                    "$c = (uint64_t)$x")
    assert isinstance(let, n.Let) and isinstance(let.type, n.TypeOf)
    assert isinstance(let.type.operand, n.TypeName)
    assert type_text(let.type.operand) == "size_t*"
    assert isinstance(pointer_cast, n.Assign) and isinstance(pointer_cast.value, n.Cast)
    assert isinstance(pointer_cast.value.type, n.TypeName)
    assert type_text(pointer_cast.value.type) == "pid_t**"
    assert isinstance(cast, n.Assign) and isinstance(cast.value, n.Cast)
    assert sexp(expr("(x) * y")) == "(* x y)"
    assert sexp(expr("sizeof(x * 2)")) == "(sizeof (* x 2))"


def test_a_call_may_pass_a_type() -> None:
    call = expr("container_of($p, typeof(struct task_struct), se)")
    assert isinstance(call, n.Call) and isinstance(call.args[1], n.TypeOf)
    assert n.written_type(call.args[1]) is not None
    bare = expr("config().max_strlen")
    assert isinstance(bare, n.Field) and isinstance(bare.base, n.Identifier)


def test_a_block_ending_in_if_else_or_a_block_has_its_value() -> None:
    for text, value in (("{ 1; if (a) { 2 } else { 3 } }", n.If), ("{ 1; { 2 } }", n.Block),
                        ("{ 1; if (a) { 2 } }", type(None)), ("{ 1; 2; }", type(None))):
        block = expr(text)
        assert isinstance(block, n.BlockExpr)
        assert isinstance(block.block.value, value), text


def test_if_else_chain() -> None:
    stmt = only_stmt("if (a) { 1 } else if (b) { 2; 3 } else { }")
    assert isinstance(stmt, n.If)
    assert sexp(stmt.cond) == "a"
    assert len(stmt.then.stmts) == 1
    middle = stmt.orelse
    assert isinstance(middle, n.If)
    assert sexp(middle.cond) == "b"
    assert len(middle.then.stmts) == 2
    last = middle.orelse
    assert isinstance(last, n.Block) and last.stmts == ()


def test_if_without_else() -> None:
    stmt = only_stmt("if ($x > 1) { print(1); }")
    assert isinstance(stmt, n.If)
    assert stmt.orelse is None
    assert sexp(stmt.cond) == "(> $x 1)"


def test_block_and_if_at_statement_start_are_statements() -> None:
    block, if_stmt = stmts("{ @a = 1; } if (x) { }")
    assert isinstance(block, n.Block) and len(block.stmts) == 1
    assert isinstance(if_stmt, n.If)


def test_block_and_if_expressions() -> None:
    block_assign, if_assign = stmts("$x = { let $a = 1; $a }; $y = if (c) { 1 } else { 2 }")
    assert isinstance(block_assign, n.Assign)
    value = block_assign.value
    assert isinstance(value, n.BlockExpr)
    assert [type(s) for s in value.block.stmts] == [n.Let, n.ExprStmt]
    assert isinstance(if_assign, n.Assign)
    if_value = if_assign.value
    assert isinstance(if_value, n.IfExpr)
    assert sexp(if_value.if_.cond) == "c"
    assert isinstance(if_value.if_.orelse, n.Block)


def test_loops() -> None:
    while_, for_map, for_range, unroll = stmts(
        "while ($i < 3) { $i++; if ($i == 2) { break; } continue; } "
        "for ($kv : @m) { print($kv); } "
        "for ($i : 0..$n + 1) { } "
        "unroll (3) { @x++ }")
    assert isinstance(while_, n.While) and sexp(while_.cond) == "(< $i 3)"
    assert [type(s) for s in while_.body.stmts] == [n.ExprStmt, n.If, n.Continue]
    inner_if = while_.body.stmts[1]
    assert isinstance(inner_if, n.If) and isinstance(inner_if.then.stmts[0], n.Break)
    assert isinstance(for_map, n.For) and for_map.var == "$kv"
    assert isinstance(for_map.iterable, n.MapRef) and for_map.iterable.name == "@m"
    assert isinstance(for_range, n.For) and isinstance(for_range.iterable, n.Range)
    assert sexp(for_range.iterable.start) == "0"
    assert sexp(for_range.iterable.stop) == "(+ $n 1)"
    assert isinstance(unroll, n.Unroll) and sexp(unroll.count) == "3"
    assert len(unroll.body.stmts) == 1


def test_heads_without_parentheses() -> None:
    if_, while_, for_range, for_map, for_parens = stmts(
        "if $x > 1 { @a = 1 } else if $x { @a = 2 } else { @a = 3 } "
        "while $i < 3 { $i++ } "
        "for $i : 0..$n + 1 { } "
        "for $kv : @m { } "
        "for ($i : 1..2) { }")
    assert isinstance(if_, n.If) and sexp(if_.cond) == "(> $x 1)"
    assert isinstance(if_.orelse, n.If) and sexp(if_.orelse.cond) == "$x"
    assert isinstance(while_, n.While) and sexp(while_.cond) == "(< $i 3)"
    assert isinstance(for_range, n.For) and isinstance(for_range.iterable, n.Range)
    assert sexp(for_range.iterable.stop) == "(+ $n 1)"
    assert isinstance(for_map, n.For) and isinstance(for_map.iterable, n.MapRef)
    assert isinstance(for_parens, n.For) and sexp(for_parens.iterable.start) == "1"


def test_return() -> None:
    bare, valued = stmts("return; return 1 + 1")
    assert isinstance(bare, n.Return) and bare.value is None
    assert isinstance(valued, n.Return) and valued.value is not None
    assert sexp(valued.value) == "(+ 1 1)"


def test_last_statement_needs_no_semicolon() -> None:
    probe = only_probe("BEGIN { @a = 1; @b = 2 }")
    assert [sexp(s.target) for s in probe.body.stmts if isinstance(s, n.Assign)] == ["@a", "@b"]


# ---- top-level items ------------------------------------------------------------------

def test_macro_definitions() -> None:
    with_params, without = program(
        "macro add($a, @m, x) { $a + x } macro one() { 1 }").items
    assert isinstance(with_params, n.MacroDef)
    assert (with_params.name, with_params.params) == ("add", ("$a", "@m", "x"))
    (body,) = with_params.body.stmts
    assert isinstance(body, n.ExprStmt) and sexp(body.expr) == "(+ $a x)"
    assert isinstance(without, n.MacroDef) and without.params == ()


def test_config_block() -> None:
    (config,) = program(
        'config = { max_map_keys = 0x10; mode = "fast"; on = true; off = false; '
        "policy = name; }").items
    assert isinstance(config, n.ConfigBlock)
    assert [(e.key, e.value) for e in config.entries] == [
        ("max_map_keys", 16), ("mode", "fast"), ("on", True), ("off", False),
        ("policy", "name")]


def test_empty_config_block() -> None:
    (config,) = program("config = {}").items
    assert isinstance(config, n.ConfigBlock) and config.entries == ()


def test_map_declarations() -> None:
    sized, bare = program("let @m = lru_hash(100); let @n = hash();").items
    assert isinstance(sized, n.MapDecl)
    assert (sized.name, sized.kind, [sexp(a) for a in sized.args]) == ("@m", "lru_hash", ["100"])
    assert isinstance(bare, n.MapDecl) and (bare.name, bare.args) == ("@n", ())


def test_struct_definition() -> None:
    (struct,) = program(
        "struct foo { int a; unsigned long *b, c[4][2]; struct bar *d; int e : 3; "
        "const char f; };").items
    assert isinstance(struct, n.CStruct)
    assert (struct.kind, struct.name) == ("struct", "foo")
    fields = [(f.name, f.type.base if isinstance(f.type, n.TypeName) else None,
               f.pointer_depth, f.array_sizes, f.bits) for f in struct.fields]
    assert fields == [
        ("a", "int", 0, (), None),
        ("b", "unsigned long", 1, (), None),
        ("c", "unsigned long", 0, (4, 2), None),
        ("d", "struct bar", 1, (), None),
        ("e", "int", 0, (), 3),
        ("f", "char", 0, (), None),
    ]


def test_nested_and_anonymous_unions() -> None:
    outer, anonymous = program(
        "union u { int a; union { int x; char y; } inner; }; struct { int z; };").items
    assert isinstance(outer, n.CStruct) and (outer.kind, outer.name) == ("union", "u")
    inner = outer.fields[1]
    assert inner.name == "inner"
    assert isinstance(inner.type, n.CStruct) and inner.type.kind == "union"
    assert [f.name for f in inner.type.fields] == ["x", "y"]
    assert isinstance(anonymous, n.CStruct) and anonymous.name is None


def test_enum_definitions() -> None:
    named, anonymous = program(
        "enum color { RED, GREEN = 5, BLUE = -2, }; enum { A };").items
    assert isinstance(named, n.CEnum) and named.name == "color"
    assert [(v.name, v.value) for v in named.values] == [
        ("RED", None), ("GREEN", 5), ("BLUE", -2)]
    assert isinstance(anonymous, n.CEnum) and anonymous.name is None
    assert [v.name for v in anonymous.values] == ["A"]


def test_a_struct_union_or_enum_needs_no_semicolon_before_a_probe() -> None:
    struct, union, enum, probe = program(
        "struct s { int a; }\nunion u { int b; } enum e { A }\nbegin { }").items
    assert isinstance(struct, n.CStruct) and struct.name == "s"
    assert isinstance(union, n.CStruct) and union.kind == "union"
    assert isinstance(enum, n.CEnum) and enum.name == "e"
    assert isinstance(probe, n.Probe) and probe.span.line == 3


def test_typedefs() -> None:
    plain, pointer, array = program(
        "typedef unsigned int myint; typedef struct foo *foop; typedef char name_t[16];").items
    assert isinstance(plain, n.CTypedef) and plain.name == "myint"
    assert isinstance(plain.type, n.TypeName) and plain.type.base == "unsigned int"
    assert isinstance(pointer, n.CTypedef) and (pointer.name, pointer.pointer_depth) == ("foop", 1)
    assert isinstance(pointer.type, n.TypeName) and pointer.type.base == "struct foo"
    assert isinstance(array, n.CTypedef) and array.array_sizes == (16,)


def test_preprocessor_lines() -> None:
    include, define, probe = program(
        "#include <linux/sched.h>\n#define X 1\nBEGIN { }").items
    assert isinstance(include, n.Preproc) and include.text == "#include <linux/sched.h>"
    assert isinstance(define, n.Preproc) and define.text == "#define X 1"
    assert (include.span.line, define.span.line) == (1, 2)
    assert isinstance(probe, n.Probe) and probe.span.line == 3


def test_c_integer_spellings_are_normalised() -> None:
    (struct,) = program("struct s { long unsigned int a; short int b; signed c; "
                        "unsigned d; long long int e; signed char f; };").items
    assert isinstance(struct, n.CStruct)
    assert [f.type.base for f in struct.fields if isinstance(f.type, n.TypeName)] == [
        "unsigned long", "short", "int", "unsigned int", "long long", "signed char"]


def test_a_typedef_name_is_a_type_from_its_declaration_on() -> None:
    probe = only_probe("typedef unsigned int u32_t;\n"
                       "typedef struct { u32_t a; } box_t;\n"
                       "BEGIN /(u32_t)$1 > 0/ { $a = (u32_t)-1; $b = (x) - 1; $c = (box_t *)$p; "
                       "$d = sizeof(u32_t); let $e: u32_t = 1; $f = offsetof(box_t, a); }")
    assert probe.predicate is not None and sexp(probe.predicate) == "(> (cast u32_t $1) 0)"
    values = [sexp(s.value) for s in probe.body.stmts
              if isinstance(s, n.Assign)]
    assert values == ["(cast u32_t (- 1))", "(- x 1)", "(cast box_t* $p)", "(sizeof u32_t)",
                      "(offsetof box_t a)"]
    let = probe.body.stmts[4]
    assert isinstance(let, n.Let) and let.type is not None and let.type.base == "u32_t"


def test_a_name_before_its_typedef_is_a_name() -> None:
    begin, end = program("BEGIN { $a = (t) - 1; }\ntypedef int t;\nEND { $b = (t) - 1; }"
                         ).probes
    assert [sexp(s.value) for s in begin.body.stmts if isinstance(s, n.Assign)] == ["(- t 1)"]
    assert [sexp(s.value) for s in end.body.stmts if isinstance(s, n.Assign)] == [
        "(cast t (- 1))"]


def test_a_backslash_continues_a_preprocessor_line() -> None:
    define, probe = program("#define LONG (1 + \\\n  2)\nBEGIN { }").items
    assert isinstance(define, n.Preproc) and define.text == "#define LONG (1 + \\\n  2)"
    assert isinstance(probe, n.Probe) and probe.span.line == 3


def test_items_keep_their_order() -> None:
    items = program("#include <x>\nstruct s { int a; };\nBEGIN { }\nmacro m() { 1 }\nEND { }")
    assert [type(i) for i in items.items] == [n.Preproc, n.CStruct, n.Probe, n.MacroDef,
                                              n.Probe]
    assert len(items.probes) == 2


# ---- comments, shebang, spans --------------------------------------------------------

def test_comments_are_ignored_and_keep_line_numbers() -> None:
    probe = only_probe(
        "// a line comment\n"
        "/* a block\n"
        "   comment */ BEGIN { // after code\n"
        "  @x = /* inline */ 1;\n"
        "}\n")
    assert probe.span.line == 3
    (stmt,) = probe.body.stmts
    assert isinstance(stmt, n.Assign)
    assert span(stmt) == (4, 3, 4, 22)
    assert sexp(stmt.value) == "1"


def test_shebang_line_keeps_line_numbers() -> None:
    result = program("#!/usr/bin/env ptrace\nBEGIN { @x = 1; }\n")
    (probe,) = result.items
    assert isinstance(probe, n.Probe)
    assert span(probe) == (2, 1, 2, 18)
    assert span(probe.body.stmts[0]) == (2, 9, 2, 15)


def test_spans_of_nodes() -> None:
    probe = only_probe("BEGIN\n{\n  @x[pid] = count();\n}\n")
    assert span(probe) == (1, 1, 4, 2)
    assert span(probe.attach_points[0]) == (1, 1, 1, 6)
    assert span(probe.body) == (2, 1, 4, 2)
    (assign,) = probe.body.stmts
    assert isinstance(assign, n.Assign)
    assert span(assign) == (3, 3, 3, 20)
    assert span(assign.target) == (3, 3, 3, 10)
    assert isinstance(assign.target, n.MapAccess)
    assert span(assign.target.keys[0]) == (3, 6, 3, 9)
    assert span(assign.value) == (3, 13, 3, 20)


def test_span_of_a_string_includes_its_quotes() -> None:
    node = expr('  "abc"')
    assert span(node) == (1, 3, 1, 8)


def test_spans_carry_the_source() -> None:
    source = Source("script.bt", "BEGIN { }")
    probe = parse_program(source).probes[0]
    assert isinstance(probe.span, Span)
    assert probe.span.source is source


# ---- start rules and errors --------------------------------------------------------------

def test_start_rule_program_through_parse() -> None:
    result = parse(Source("test.bt", "BEGIN { } END { }"))
    assert isinstance(result, n.Program)
    assert len(result.probes) == 2


def test_start_rule_expr_takes_one_expression() -> None:
    assert sexp(expr("1 + 2")) == "(+ 1 2)"
    with pytest.raises(CompileError):
        expr("1; 2")


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("BEGIN { x = }", 1, 13),
        ("BEGIN { @x = 1 }}", 1, 17),
        ("BEGIN {\n  @x = (1 + ;\n}", 2, 13),
        ('BEGIN { "abc }', 1, 9),
        ("BEGIN { x = 1 / }", 1, 17),
    ],
)
def test_syntax_errors_are_located(text: str, line: int, col: int) -> None:
    with pytest.raises(CompileError) as caught:
        program(text)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.col) == (line, col)


def test_parsing_alone_makes_room_for_deep_nesting() -> None:
    # The prompt parses a cell's statements outside compile(): the parser's own
    # transform needs the raised recursion limit too.
    nested = "if (1) {\n" * 240 + "1;\n" + "}\n" * 240
    assert len(stmts(nested)) == 1
    with pytest.raises(CompileError, match="nested too deeply"):
        stmts("if (1) {\n" * 300 + "1;\n" + "}\n" * 300)
