"""Semantic types, separate from their memory layout in BPF."""
