"""Inference: load a model to generate with (one loader for chat, eval, its judge and merge), and the chat REPL."""
