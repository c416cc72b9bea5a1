"""The abstract syntax tree, its visitor and its printer."""
