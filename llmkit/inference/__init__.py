"""Inference: load a model to generate with (one loader for chat, eval, its judge and merge), and the chat REPL."""

from llmkit.inference.loader import InferenceModel, load_for_inference

__all__ = ["InferenceModel", "load_for_inference"]
