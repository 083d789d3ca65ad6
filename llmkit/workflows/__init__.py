"""Workflows: run(cfg) -> result for each job; they report through llmkit.console only."""
