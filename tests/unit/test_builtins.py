"""The builtin table (ptrace/types/builtins.py) and what reads it: each row has
its checker and lowering methods, arity comes from the row, and the parser,
the REPL and the docs know every row."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from ptrace.runtime import values

from ptrace import repl
from ptrace.codegen.lower import Lowerer
from ptrace.parse.parser import CALLABLE_BUILTINS
from ptrace.passes.check_builtins import BuiltinChecks
from ptrace.types import types as t
from ptrace.types.builtins import AGGREGATIONS, FUNCTIONS, VARIABLES, Function, Variable
from tests.unit.fixtures import fixture_machine

LANGUAGE = Path(__file__).parents[2] / "docs" / "language.md"


def lowering_method(row: Function) -> str:
    return ("aggregate_" if row.aggregation else "call_") + row.name


@pytest.mark.parametrize("row", FUNCTIONS.values(), ids=list(FUNCTIONS))
def test_every_function_has_a_check_and_a_lowering(row: Function) -> None:
    assert callable(getattr(BuiltinChecks, "call_" + row.name, None)), \
        f"the checker has no call_{row.name}"
    assert callable(getattr(Lowerer, lowering_method(row), None)), \
        f"the lowering has no {lowering_method(row)}"


@pytest.mark.parametrize("row", VARIABLES.values(), ids=list(VARIABLES))
def test_every_variable_has_a_type_and_a_lowering(row: Variable) -> None:
    method = getattr(BuiltinChecks, row.method_name, None)
    assert (row.type is None) == callable(method), \
        f"{row.name} needs a type in its row or a checker method {row.method_name}, not both"
    assert callable(getattr(Lowerer, row.method_name, None)), \
        f"the lowering has no {row.method_name}"


def test_no_method_without_a_row() -> None:
    calls = {"call_" + name for name in FUNCTIONS}
    variables = {row.method_name for row in VARIABLES.values()}
    lowered = {lowering_method(row) for row in FUNCTIONS.values()} | {"aggregate_value"}
    for cls, names in ((BuiltinChecks, calls | variables), (Lowerer, lowered | variables)):
        methods = {m for m in dir(cls) if m.startswith(("call_", "builtin_", "aggregate_"))}
        assert methods <= names, f"{cls.__name__} has methods for no row: {methods - names}"


@pytest.mark.parametrize("name, count, message", [
    ("exit", 2, "exit() takes 0 to 1 argument, got 2"),
    ("count", 1, "count() takes 0 arguments, got 1"),
    ("clear", 0, "clear() takes 1 argument, got 0"),
    ("lhist", 3, "lhist() takes 4 arguments, got 3"),
    ("print", 0, "print() takes 1 to 3 arguments, got 0"),
    ("strncmp", 4, "strncmp() takes 3 arguments, got 4"),
    ("printf", 0, "printf() needs a format string"),
    ("ntop", 3, "ntop() takes 1 to 2 arguments, got 3"),
])
def test_arity_errors_come_from_the_row(name: str, count: int, message: str) -> None:
    assert FUNCTIONS[name].arity_error(count) == message


@pytest.mark.parametrize("name, counts", [
    ("exit", (0, 1)), ("count", (0,)), ("printf", (1, 2, 20)), ("ntop", (1, 2)),
    ("kstack", (0, 1, 2)), ("lhist", (4,)),
])
def test_arities_the_row_allows(name: str, counts: tuple[int, ...]) -> None:
    assert all(FUNCTIONS[name].arity_error(count) is None for count in counts)


def test_aggregations_are_the_rows_that_say_so() -> None:
    assert {"count", "sum", "avg", "min", "max", "stats", "hist", "lhist",
            "tseries"} == AGGREGATIONS


def test_variables_may_be_written_as_calls_but_functions_stay_calls() -> None:
    assert {"uid", "probe", "probetype", "func", "cpu"} <= CALLABLE_BUILTINS
    assert not CALLABLE_BUILTINS & {"kstack", "ustack", "printf", "count"}


def test_the_repl_completes_every_builtin_with_its_doc() -> None:
    assert set(repl.BUILTIN_DOCS) == set(VARIABLES) | set(FUNCTIONS)
    assert repl.BUILTIN_DOCS["func"] == VARIABLES["func"].doc
    assert repl.BUILTIN_DOCS["kstack"] == FUNCTIONS["kstack"].doc  # the function's
    assert repl.complete("BEGIN { fu", fixture_machine(), set()) == ("fu", ["func"])
    session = SimpleNamespace(names=set(), machine=fixture_machine())
    completer = repl._Completer(session)
    (shown,) = completer.get_completions(Document("BEGIN { fu"), CompleteEvent())
    assert (shown.text, shown.display_meta_text) == ("func", VARIABLES["func"].doc)


def test_every_row_has_a_doc_line() -> None:
    for row in (*VARIABLES.values(), *FUNCTIONS.values()):
        assert row.doc and "\n" not in row.doc, row.name


def test_the_language_reference_names_every_builtin() -> None:
    text = LANGUAGE.read_text()
    for name in FUNCTIONS:
        assert re.search(rf"\b{name}\(", text), f"docs/language.md does not show {name}()"
    for name in VARIABLES:
        first = re.sub(r"\d+$", "0", name)  # arg0 … arg5 are shown as a range
        assert re.search(rf"`[^`]*\b{first}\b[^`]*`", text), f"docs/language.md lacks {name}"


@pytest.mark.parametrize("kind", t.FormatKind)
def test_every_formatted_kind_has_a_formatter(kind: t.FormatKind) -> None:
    fmt = "*" if kind is t.FormatKind.CGROUP_PATH else "%Y"
    assert isinstance(values.format_special(0, t.Formatted(kind, fmt)), str)


def test_a_kind_without_a_formatter_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(values._FORMATTERS, t.FormatKind.KSYM)
    with pytest.raises(AssertionError, match="no formatter for"):
        values.format_special(0, t.Formatted(t.FormatKind.KSYM))
