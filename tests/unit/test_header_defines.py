"""The integers a C header's macros define, read through its #includes and
conditionals (what `#include` and `--include` give a script)."""

from __future__ import annotations

from pathlib import Path

from ptrace.parse.preprocess import header_defines


def test_integers_through_includes_and_conditionals(tmp_path: Path) -> None:
    (tmp_path / "inner.h").write_text("#ifndef INNER\n#define INNER\n#define BASE 40\n#endif\n")
    (tmp_path / "outer.h").write_text(
        '#include "inner.h"\n#include "inner.h"\n#include <missing.h>\n'
        "#define ANSWER (BASE + 2)\n#define SELF SELF\n#define TEXT \"hi\"\n"
        "#define CALL(x) x\n#ifdef NOT_DEFINED\n#define HIDDEN 1\n#endif\n"
        "#if defined(__x86_64__) && BASE > 10\n#define SHOWN 0x10\n#endif\n"
        "#define OFF 3\n#undef OFF\n")
    assert header_defines(tmp_path / "outer.h", [tmp_path]) == \
        {"BASE": 40, "ANSWER": 42, "SHOWN": 16}
