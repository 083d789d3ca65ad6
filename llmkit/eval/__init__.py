"""Evaluation: scoring models on held-out questions and benchmarks."""
