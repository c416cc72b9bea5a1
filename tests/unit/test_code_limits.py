"""How much code a script may make: the bounds that keep a compile short, each an
error at the place that passed it, and the long jumps of large programs."""

from __future__ import annotations

from ptrace.codegen.code_size import MAX_INSTRUCTIONS
from ptrace.codegen.emit import FAR_JUMP, _longest_jump
from ptrace.compile import compile
from ptrace.diagnostics import Source
from ptrace.options import Options
from ptrace.passes.expand_probes import MAX_COPIED_NODES
from tests.diagnostics.golden import compile_errors, fixture_machine


def test_probes_written_out_past_max_probes_stop_the_parse() -> None:
    """The 1,025th of 20,000 probes is the error, found while parsing: the syntax
    error at the end of the script is never reached."""
    text = "BEGIN { @b = 1; }\n" * 20_000 + "BEGIN { )"
    assert compile_errors("many.bt", text) == (
        "many.bt:1025:1: error: the script attaches to more than 1024 probes (1025 with this "
        "one)\n"
        "    BEGIN { @b = 1; }\n"
        "    ^~~~~\n"
        "  hint: a narrower wildcard attaches faster; to allow more, raise max_probes "
        "(config = { max_probes = 1025 })\n")


def test_a_script_that_sets_the_limit_is_parsed_whole() -> None:
    text = "config = { max_probes = 3000 }\n" + "BEGIN { @b = 1; }\n" * 2000 + "BEGIN { )"
    errors = compile_errors("many.bt", text)
    assert errors is not None and errors.startswith("many.bt:2002:9: error: ")


def test_a_probe_past_the_instruction_limit_is_refused_at_the_probe() -> None:
    """1,000 copies of five printf calls: the lowering stops at the limit."""
    body = 'printf("%d %s\\n", pid, comm); ' * 5
    text = f"BEGIN {{ @x = 1; }}\nEND {{ unroll(100) {{ unroll(10) {{ {body}}} }} }}\n"
    errors = compile_errors("big.bt", text)
    assert errors is not None
    lines = errors.splitlines()
    assert lines[0] == ("big.bt:2:1: error: the script makes too much code to compile: more "
                        f"than {MAX_INSTRUCTIONS:,} instructions with this probe")
    assert lines[-1] == ("  hint: a while or for loop runs its body without copying it (unroll "
                         "copies it); a narrower wildcard makes fewer programs")


def test_a_map_loop_body_counts_toward_the_instruction_limit() -> None:
    """A for loop over a map is a callback function of its own: what it holds is
    counted with the rest (3,000 map updates in one took 17 s in LLVM)."""
    body = "@s[comm] = 1; " * 3000
    text = f"BEGIN {{ @limit[1] = 3; }}\nEND {{ for ($kv : @limit) {{ {body}}} }}\n"
    errors = compile_errors("loop.bt", text)
    assert errors is not None
    assert errors.splitlines()[0] == (
        "loop.bt:2:1: error: the script makes too much code to compile: more than "
        f"{MAX_INSTRUCTIONS:,} instructions with this probe")


def test_many_copies_of_a_long_probe_are_refused_at_expansion() -> None:
    points = ", ".join(f"interval:s:{n}" for n in range(1, 31))
    text = f"{points} {{ {'$a = 1; ' * 800}}}\n"
    errors = compile_errors("copies.bt", text)
    assert errors is not None
    assert errors.startswith(
        "copies.bt:1:" f"{points.index('interval:s:27') + 1}: error: the script expands to too "
        f"much code to compile: more than {MAX_COPIED_NODES:,} syntax nodes with this probe's "
        "copies (1 of 2,432 nodes)\n"), errors


def test_a_program_with_a_far_jump_is_made_with_long_jumps() -> None:
    """700 printf calls in an `if`: its jump over them is longer than FAR_JUMP
    instructions, which the verifier's inlining could push past 16 bits; the
    program is made as v4, whose long jumps (gotol) have 32-bit offsets."""
    text = "BEGIN { if (nsecs > 0) { " + 'printf("x %d\\n", pid); ' * 700 + "} }"
    program = compile(Source("jumps.bt", text), Options(), fixture_machine())
    insns = program.programs[0].insns
    assert len(insns) // 8 > FAR_JUMP
    assert _longest_jump(insns) < FAR_JUMP
    gotol = [at for at in range(0, len(insns), 8) if insns[at] == 0x06]  # BPF_JMP32 | BPF_JA
    assert gotol


def test_longest_jump_reads_16_bit_offsets() -> None:
    def insn(code: int, offset: int) -> bytes:
        return bytes([code, 0]) + offset.to_bytes(2, "little", signed=True) + bytes(4)

    code = insn(0x15, 3) + insn(0x05, -20_000) + insn(0x85, 30_000) + insn(0x95, 0)
    assert _longest_jump(code) == 20_000  # a call's and an exit's fields are not jumps
