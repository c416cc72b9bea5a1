"""Typed AST → LLVM IR → BPF instructions (llvmlite, `bpfel` target)."""

import os

# Opaque pointers (`ptr`): must be chosen before llvmlite.ir is first imported,
# which is why it is set here, in the package every codegen module belongs to.
os.environ.setdefault("LLVMLITE_ENABLE_IR_LAYER_TYPED_POINTERS", "0")
