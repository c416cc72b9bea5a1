"""Tests for `-d types` (ptrace.passes.dump_types): the instances after the
passes, compiled with the real `compile()` against the fixture machine and
compared whole, also when checking fails."""

from __future__ import annotations

import pytest

from ptrace.diagnostics import CompileError
from tests.unit.fixtures import compile_text


def dump_types(script: str) -> str:
    return compile_text(script, dumps=("types",)).dumps["types"]


def test_maps_with_their_keys_values_and_declarations() -> None:
    assert dump_types("let @recent = lruhash(2);\n"
                      "BEGIN {\n"
                      "  @recent[comm, pid] = nsecs;\n"
                      "  @n = count();\n"
                      "  @s = sum(nsecs);\n"
                      "}\n") == """\
Map name='@n' value='count()'  @4
Map name='@recent' key='(string[16], uint32)' value='uint64' kind='lruhash' size=2  @3
Map name='@s' value='sum(signed=False)'  @5
Instance index=0 probe='BEGIN'  @2
  .probe:
    Probe  @2
      .attach_points:
        AttachPoint text='BEGIN'  @2
      .body:
        Block ends_in_value=False  @2
          .stmts:
            Assign op='='  @3
              .target:
                MapAccess name='@recent' type='uint64'  @3
                  .keys:
                    Identifier name='comm' type='string[16]'  @3
                    Identifier name='pid' type='uint32'  @3
              .value:
                Identifier name='nsecs' type='uint64'  @3
            Assign op='='  @4
              .target:
                MapAccess name='@n' type='count()'  @4
              .value:
                Call name='count'  @4
            Assign op='='  @5
              .target:
                MapAccess name='@s' type='sum(signed=False)'  @5
              .value:
                Call name='sum'  @5
                  .args:
                    Identifier name='nsecs' type='uint64'  @5"""


def test_variables_with_each_type_they_take() -> None:
    assert dump_types("BEGIN {\n"
                      "  if (pid) { $y = \"ab\"; } else { $y = 2; }\n"
                      "  let $z;\n"
                      "  $z = (int8)1;\n"
                      "}\n") == """\
Instance index=0 probe='BEGIN'  @1
  .variables:
    Variable name='$y' type='string[3]'  @2
    Variable name='$y' type='uint8'  @2
    Variable name='$z' type='int8'  @3
  .probe:
    Probe  @1
      .attach_points:
        AttachPoint text='BEGIN'  @1
      .body:
        Block ends_in_value=False  @1
          .stmts:
            If  @2
              .cond:
                Identifier name='pid' type='uint32'  @2
              .then:
                Block ends_in_value=False  @2
                  .stmts:
                    Assign op='='  @2
                      .target:
                        Variable name='$y' type='string[3]'  @2
                      .value:
                        String value='ab' type='string[3]'  @2
              .orelse:
                Block ends_in_value=False  @2
                  .stmts:
                    Assign op='='  @2
                      .target:
                        Variable name='$y' type='uint8'  @2
                      .value:
                        Integer value=2 text='2' type='uint8'  @2
            Let name='$z' type='int8'  @3
            Assign op='='  @4
              .target:
                Variable name='$z' type='int8'  @4
              .value:
                Cast type='int8'  @4
                  .type:
                    TypeName base='int8' pointer_depth=0  @4
                  .operand:
                    Integer value=1 text='1' type='uint8'  @4"""


def test_a_tracepoint_field_and_a_struct_field_read() -> None:
    assert dump_types("struct s { int a; int b:3; };\n"
                      "tracepoint:syscalls:sys_enter_openat {\n"
                      "  $f = args.filename;\n"
                      "  $b = ((struct s *)$f)->b;\n"
                      "}\n") == """\
Instance index=0 probe='tracepoint:syscalls:sys_enter_openat'  @2
  .variables:
    Variable name='$f' type='char *'  @3
    Variable name='$b' type='uint32'  @4
  .probe:
    Probe  @2
      .attach_points:
        AttachPoint text='tracepoint:syscalls:sys_enter_openat'  @2
      .body:
        Block ends_in_value=False  @2
          .stmts:
            Assign op='='  @3
              .target:
                Variable name='$f' type='char *'  @3
              .value:
                Field name='filename' arrow=False type='char *' constant=2  @3
                  .base:
                    Identifier name='args'  @3
            Assign op='='  @4
              .target:
                Variable name='$b' type='uint32'  @4
              .value:
                Field name='b' arrow=True type='uint32' offset=4 read_size=1 \
bit_shift=0 bit_size=3  @4
                  .base:
                    Cast type='struct s *'  @4
                      .type:
                        TypeName base='struct s' pointer_depth=1  @4
                      .operand:
                        Variable name='$f' type='char *'  @4"""


WILDCARD_INSTANCE = """\
Instance index={index} probe='tracepoint:sched:sched_process_{event}'  @1
  .probe:
    Probe  @1
      .attach_points:
        AttachPoint text='tracepoint:sched:sched_process_ex*'  @1
      .body:
        Block ends_in_value=False  @1
          .stmts:
            Assign op='='  @1
              .target:
                MapAccess name='@' type='count()'  @1
                  .keys:
                    Field name='{field}' arrow=False{decided}  @1
                      .base:
                        Identifier name='args'  @1
              .value:
                Call name='count'  @1"""


def test_a_wildcard_has_a_section_per_instance() -> None:
    script = "tracepoint:sched:sched_process_ex* { @[args.pid] = count(); }"
    assert dump_types(script) == "\n".join((
        "Map name='@' key='int32' value='count()'  @1",
        WILDCARD_INSTANCE.format(index=0, event="exec", field="pid",
                                 decided=" type='int32' constant=1"),
        WILDCARD_INSTANCE.format(index=1, event="exit", field="pid",
                                 decided=" type='int32' constant=1")))


def test_what_was_typed_is_dumped_when_checking_fails() -> None:
    """sched_process_exec has no `prio`: its instance shows the field untyped,
    the other instance and the map show what the checker decided."""
    with pytest.raises(CompileError) as error:
        dump_types("tracepoint:sched:sched_process_ex* { @[args.prio] = count(); }")
    assert [d.message for d in error.value.diagnostics] == [
        "tracepoint sched:sched_process_exec has no field 'prio'"]
    assert error.value.dumps == {"types": "\n".join((
        "Map name='@' key='int32' value='count()'  @1",
        WILDCARD_INSTANCE.format(index=0, event="exec", field="prio", decided="")
        .replace(" type='count()'", ""),
        WILDCARD_INSTANCE.format(index=1, event="exit", field="prio",
                                 decided=" type='int32' constant=2")))}


def test_no_dump_when_checking_did_not_run() -> None:
    with pytest.raises(CompileError) as error:
        dump_types("tracepoint:sched:no_such_event { @ = count(); }")
    assert error.value.dumps == {}


def test_other_stages_are_not_dumped_when_checking_fails() -> None:
    with pytest.raises(CompileError) as error:
        compile_text("BEGIN { @x = nope; }", dumps=("ast", "types", "ir"))
    assert list(error.value.dumps) == ["types"]
