"""`config = { key = value; … }` blocks and `let @m = kind(size);` declarations.

Input: the program's top-level items. Output: `ctx.options` with the script's
settings applied (a setting given in the environment wins over the script),
and `ctx.map_decls`, each declared map's kind and size. Unknown keys, bad
values and unknown map kinds are diagnostics.
"""

from __future__ import annotations

import difflib

from ptrace.ast import nodes as n
from ptrace.options import SETTINGS, SettingError, apply_setting, setting_key, unstable_refused
from ptrace.passes.context import CompileContext, MapDecl

MAP_KINDS = ("hash", "lruhash", "percpuhash", "percpulruhash")


def apply_config(ctx: CompileContext) -> None:
    seen: dict[str, n.ConfigEntry] = {}
    for item in ctx.program.items:
        if isinstance(item, n.ConfigBlock):
            for entry in item.entries:
                _apply_entry(ctx, entry, seen)
        elif isinstance(item, n.MapDecl):
            _declare_map(ctx, item)


def _apply_entry(ctx: CompileContext, entry: n.ConfigEntry,
                 seen: dict[str, n.ConfigEntry]) -> None:
    key = setting_key(entry.key)
    if key not in SETTINGS:
        close = difflib.get_close_matches(entry.key, list(SETTINGS), n=1)
        ctx.reporter.error(f"unknown config key '{entry.key}'", entry.span,
                           f"did you mean '{close[0]}'?" if close else
                           f"keys: {', '.join(sorted(SETTINGS))}")
        return
    if key in seen:
        ctx.reporter.error(f"'{key}' is set twice", entry.span,
                           f"it was first set at line {seen[key].span.line}")
        return
    seen[key] = entry
    if key in ctx.options.from_env:
        return  # the environment wins over the script
    try:
        ctx.options = apply_setting(ctx.options, key, entry.value)
    except SettingError as error:
        ctx.reporter.error(str(error), entry.span)


def _declare_map(ctx: CompileContext, decl: n.MapDecl) -> None:
    refused = unstable_refused(ctx.options, "map_decl", "a map declaration")
    if refused:
        ctx.reporter.error(refused, decl.span)
        return
    if decl.kind not in MAP_KINDS:
        close = difflib.get_close_matches(decl.kind, MAP_KINDS, n=1)
        ctx.reporter.error(f"unknown map kind '{decl.kind}'", decl.span,
                           f"did you mean '{close[0]}'?" if close else
                           f"kinds: {', '.join(MAP_KINDS)}")
        return
    if len(decl.args) != 1 or not isinstance(decl.args[0], n.Integer) or decl.args[0].value <= 0:
        ctx.reporter.error(f"{decl.kind}() takes the map's size, a positive integer literal",
                           decl.span)
        return
    if decl.name in ctx.map_decls:
        ctx.reporter.error(f"map {decl.name} is declared twice", decl.span)
        return
    ctx.map_decls[decl.name] = MapDecl(decl.kind, decl.args[0].value, decl.span)
