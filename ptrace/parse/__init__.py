"""Source text to AST: the only code that touches Lark."""

from ptrace.parse.parser import parse, parse_program

__all__ = ["parse", "parse_program"]
