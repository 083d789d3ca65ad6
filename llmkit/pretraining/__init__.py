"""Pretraining from scratch: presets, model builders, MLM masking, the training loop, throughput."""
