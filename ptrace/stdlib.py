"""The modules of bpftrace's standard library that scripts import by name
(`import "stdlib/test";`), as ptrace has them: script text, compiled with
the importing script (passes/import_scripts.py).

bpftrace writes these modules in C and compiles them with clang; ptrace
compiles no C, so a module here gives what bpftrace's does, written in the
script language: C functions become macros. bpftrace's other stdlib modules
back builtins that ptrace has natively; a script never imports them.
"""

from __future__ import annotations

MODULES = {
    # What bpftrace's own tests import to check that imported functions work.
    "stdlib/test": """\
// 1, an int (the C function's type).
macro __always_true() { (int32)1 }

// The current task, as a struct task_struct pointer.
macro __test_get_current_task() { (struct task_struct *)curtask }
""",
}
