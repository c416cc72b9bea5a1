"""Source text to AST: the only code that touches Lark."""

from ptrace.parse.parser import parse, parse_expression_at, parse_program

__all__ = ["parse", "parse_expression_at", "parse_program"]
