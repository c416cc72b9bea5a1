"""LLVM module → optimised IR → BPF ELF object → instructions per program.

All programs of a script go into one module and one `emit_object` call (one
section each), which is much faster than a module per program.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import llvmlite.binding as llvm
from llvmlite import ir

from ptrace.elf import ProgramCode, object_sections


@cache
def _target_machine() -> Any:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple("bpfel")
    return target.create_target_machine(cpu="v3", opt=2, reloc="static", codemodel="small")


def new_module(name: str) -> ir.Module:
    module = ir.Module(name)
    module.triple = "bpfel"
    module.data_layout = str(_target_machine().target_data)
    return module


@dataclass
class Emitted:
    sections: dict[str, ProgramCode]  # section name → instructions
    ir_text: str
    ir_optimized: str
    asm: str


def emit(module: ir.Module, want_asm: bool = False) -> Emitted:
    """Verify, optimise at O2 and compile `module` to BPF."""
    tm = _target_machine()
    ir_text = str(module)
    parsed = llvm.parse_assembly(ir_text)
    parsed.verify()
    tuning = llvm.create_pipeline_tuning_options(speed_level=2)
    builder = llvm.create_pass_builder(tm, tuning)
    builder.getModulePassManager().run(parsed, builder)
    asm = tm.emit_assembly(parsed) if want_asm else ""
    obj = tm.emit_object(parsed)
    return Emitted(object_sections(obj), ir_text, str(parsed), asm)
