"""Training infrastructure: what llmkit's Trainer runs and its Accelerator loops share.

trainer.py (TrainingArguments from a recipe, run summaries, gathering sharded weights), resumable.py
(the Trainer with llmkit's checkpoints), accelerator.py (the one Accelerator of the loops), batches.py
(their seeded batch order), checkpoints.py (checkpoint folders, and the loops' checkpoints through
accelerate), replicas.py (what each rank did), generative_loop.py (what the GAN and diffusion loops share).
"""
