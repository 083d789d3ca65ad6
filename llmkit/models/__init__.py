"""Models: llmkit's built-in base model (and, later, classic networks registered with Auto classes)."""
