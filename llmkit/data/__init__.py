"""Data: built-in demo corpus and tasks, tokenizer training, SFT formats and label masking."""
