"""The bound on how much code a script may make.

LLVM's time grows with the size of the module (and somewhat faster than it):
a program of 50,000 instructions takes several seconds to optimise and
compile. Past MAX_INSTRUCTIONS LLVM instructions in the module the lowering
stops, with an error at the probe being lowered, before LLVM is given
minutes of work (a wildcard over hundreds of probes with a long body, a
thousand printf calls copied by unroll).
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

MAX_INSTRUCTIONS = 1 << 16


class CodeTooLarge(Exception):
    """The module has reached MAX_INSTRUCTIONS."""


class CodeBudget:
    """The instructions written so far into one module."""

    def __init__(self, limit: int = MAX_INSTRUCTIONS):
        self.limit, self.used = limit, 0

    def builder(self, block: ir.Block) -> ir.IRBuilder:
        """An IRBuilder at the end of `block` that counts what it writes."""
        return _CountingBuilder(block, self)


class _CountingBuilder(ir.IRBuilder):  # type: ignore[misc]  # llvmlite has no types
    def __init__(self, block: ir.Block, budget: CodeBudget):
        super().__init__(block)
        self._budget = budget

    def _insert(self, instr: Any) -> None:
        budget = self._budget
        budget.used += 1
        if budget.used > budget.limit:
            raise CodeTooLarge
        super()._insert(instr)


def longest_function(module: ir.Module) -> int:
    """The LLVM instructions of the module's longest function (about as many
    BPF instructions)."""
    return max((sum(len(block.instructions) for block in function.blocks)
                for function in module.functions), default=0)
