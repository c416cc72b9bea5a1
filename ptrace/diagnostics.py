"""Locations in a script, diagnostics about them, and how they are shown.

Every error a user can cause becomes a `Diagnostic` attached to a `Span`.
Passes collect diagnostics in a `Reporter` instead of raising; the driver
stops after a pass that reported an error and raises `CompileError`, which
the front ends render with `render()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True, slots=True)
class Source:
    """A script's text and the name it is shown under (a path, `-e` or `stdin`)."""

    name: str
    text: str = field(repr=False)

    def line(self, number: int) -> str:
        lines = self.text.split("\n")
        return lines[number - 1] if 0 < number <= len(lines) else ""


@dataclass(frozen=True, slots=True)
class Span:
    """A range in a source: 1-based lines and columns; end_col is exclusive.

    `expanded_from` is the span of the macro call whose expansion produced
    this span, so a diagnostic inside a macro can show both places.
    """

    source: Source = field(repr=False)
    line: int
    col: int
    end_line: int
    end_col: int
    expanded_from: Span | None = None

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of `other`."""
        return Span(self.source, self.line, self.col, other.end_line, other.end_col,
                    self.expanded_from)

    @staticmethod
    def whole(source: Source) -> Span:
        return Span(source, 1, 1, 1, 1)


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One message of the compiler, located in the source."""

    severity: Severity
    message: str
    span: Span | None
    hints: tuple[str, ...] = ()


class CompileError(Exception):
    """Raised by the compiler driver when a pass reported errors. `dumps`
    holds the stages asked for that are shown even so (-d types)."""

    def __init__(self, diagnostics: Iterable[Diagnostic], dumps: dict[str, str] | None = None):
        self.diagnostics = tuple(diagnostics)
        self.dumps = dumps or {}
        super().__init__("; ".join(d.message for d in self.diagnostics))


@dataclass
class Reporter:
    """Collects the diagnostics of one compilation."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, span: Span | None, *hints: str) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, message, span, hints))

    def warning(self, message: str, span: Span | None, *hints: str) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, message, span, hints))

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)

    def errors(self) -> Iterator[Diagnostic]:
        return (d for d in self.diagnostics if d.severity is Severity.ERROR)


def render(diagnostic: Diagnostic) -> str:
    """`file:line:col: error: message`, the source line, a marker, the hints."""
    out: list[str] = []
    span = diagnostic.span
    kind = diagnostic.severity.value
    message = _shown(diagnostic.message, MAX_MESSAGE)
    if span is None:
        out.append(f"ptrace: {kind}: {message}")
    else:
        out.append(f"{_shown(span.source.name, MAX_MESSAGE)}:{span.line}:{span.col}: {kind}: "
                   f"{message}")
        out.extend(_marked_line(span))
        origin = span.expanded_from
        while origin is not None:
            out.append(f"{_shown(origin.source.name, MAX_MESSAGE)}:{origin.line}:{origin.col}: "
                       "note: in the expansion of this macro call")
            out.extend(_marked_line(origin))
            origin = origin.expanded_from
    out.extend(f"  hint: {_shown(hint, MAX_MESSAGE)}" for hint in diagnostic.hints)
    return "\n".join(out)


# A message or hint longer than this (it quotes a 100,000-character name) is
# cut in its middle; a source line is shown as a window of SOURCE_WINDOW
# columns around the marked span.
MAX_MESSAGE = 400
SOURCE_WINDOW = 160
# What a terminal would act on (escape sequences, carriage returns, bells) and
# a byte that is not UTF-8 (kept as a lone surrogate) show as "?", one column each.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub("?", text.replace("\t", " "))


def _shown(text: str, limit: int) -> str:
    """Text as it may be shown: printable, and cut in its middle if too long."""
    if len(text) > limit:
        text = f"{text[:limit // 2]} … {text[-(limit // 2):]}"
    return "\n".join(_printable(line) for line in text.split("\n"))


def _marked_line(span: Span) -> list[str]:
    text = _printable(span.source.line(span.line))
    if not text.strip():
        return []
    end = span.end_col if span.end_line == span.line else len(text) + 1
    width = max(1, end - span.col)
    start = 0  # the first column shown, 0-based
    if len(text) > SOURCE_WINDOW:
        start = max(0, min(span.col - 1 - SOURCE_WINDOW // 4, len(text) - SOURCE_WINDOW))
        text = ("…" if start else "") + text[start:start + SOURCE_WINDOW] + (
            "…" if start + SOURCE_WINDOW < len(text) else "")
        start -= 1 if start else 0  # the "…" before the window takes a column
        width = min(width, SOURCE_WINDOW - (span.col - 1 - start) + 1)
    return [f"    {text}", "    " + " " * (span.col - 1 - start) + "^" + "~" * (width - 1)]


# How many diagnostics of each severity are shown; the rest are counted in one
# line, so that a script with thousands of errors prints a screenful.
SHOWN_PER_SEVERITY = 20


def render_capped(diagnostics: Iterable[Diagnostic]) -> list[str]:
    """Each diagnostic rendered, up to SHOWN_PER_SEVERITY of each severity,
    then one line that counts the ones left out."""
    shown: list[str] = []
    seen: dict[Severity, int] = {}
    for diagnostic in diagnostics:
        count = seen[diagnostic.severity] = seen.get(diagnostic.severity, 0) + 1
        if count <= SHOWN_PER_SEVERITY:
            shown.append(render(diagnostic))
    left_out = [f"{count - SHOWN_PER_SEVERITY} more {severity.value}"
                f"{'s' if count - SHOWN_PER_SEVERITY > 1 else ''}"
                for severity, count in seen.items() if count > SHOWN_PER_SEVERITY]
    if left_out:
        shown.append(f"ptrace: and {' and '.join(left_out)}")
    return shown


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    return "\n".join(render_capped(diagnostics))


def site_location(span: Span) -> tuple[str, str]:
    """Where a run-time message points: "file:line:col", and the source line
    with a marker under the span (as a diagnostic shows them)."""
    context = "\n".join(render(Diagnostic(Severity.NOTE, "", span)).split("\n")[1:])
    return f"{span.source.name}:{span.line}:{span.col}", context
