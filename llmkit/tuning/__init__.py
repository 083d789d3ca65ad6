"""Fine-tuning methods: the method table and per-family target modules."""
