"""Typed AST → LLVM IR → BPF instructions (llvmlite, `bpfel` target)."""

import os

# Opaque pointers (`ptr`): llvmlite reads its choice from the environment once,
# when it is first imported, which is why it is made here, in the package every
# codegen module belongs to. The environment is then put back as it was, so
# that a command ptrace starts (-c, system()) gets what ptrace was given.
_CHOICE = "LLVMLITE_ENABLE_IR_LAYER_TYPED_POINTERS"
_given = os.environ.get(_CHOICE)
os.environ[_CHOICE] = "0"
try:
    import llvmlite  # noqa: F401
finally:
    if _given is None:
        del os.environ[_CHOICE]
    else:
        os.environ[_CHOICE] = _given
