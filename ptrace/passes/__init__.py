"""The passes between the AST and codegen, in the order they run."""
