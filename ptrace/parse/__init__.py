"""Source text to AST: the only code that touches Lark."""

from ptrace.parse.parser import parse, parse_expression_at, parse_program
from ptrace.parse.tokens import Token, keywords, tokens

__all__ = ["Token", "keywords", "parse", "parse_expression_at", "parse_program", "tokens"]
