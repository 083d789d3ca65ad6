"""Models: loading checkpoints (transformers, GGUF, quantised), fine-tuning outputs, classic networks and DCGAN."""
