"""Generation with peft's prompt-learning methods (prefix, prompt, P-tuning, P-tuning v2) on transformers 5.

peft 0.21's `prepare_inputs_for_generation` looks for the KV cache under `past_key_values`; transformers 5
hands it over as `cache`. peft then never sees the cache: it injects its prompt again at every step and
the answers ignore the question (measured: every held-out question got the same answer). Renaming the
key on the way into peft's logic, and back on the way out, lets that logic run as it was written.
"""

from __future__ import annotations

from typing import Any


def fix_prompt_learning_generation(model: Any) -> Any:
    """Patch `model` (a peft model) in place when its adapter is a prompt-learning one; return it."""
    config = getattr(model, "active_peft_config", None)
    if config is None or not config.is_prompt_learning or getattr(model, "_llmkit_generation_fixed", False):
        return model
    prepare_base = model.base_model_prepare_inputs_for_generation
    prepare_peft = type(model).prepare_inputs_for_generation

    def base_with_old_name(*args: Any, **kwargs: Any) -> dict[str, Any]:
        inputs = prepare_base(*args, **kwargs)
        if "cache" in inputs:
            inputs["past_key_values"] = inputs.pop("cache")
        return inputs

    def peft_with_new_name(*args: Any, **kwargs: Any) -> dict[str, Any]:
        inputs = prepare_peft(model, *args, **kwargs)
        if "past_key_values" in inputs:
            inputs["cache"] = inputs.pop("past_key_values")
        return inputs

    # peft's generate() installs `self.prepare_inputs_for_generation` on the base model for the call:
    # instance attributes shadow the class's method there.
    model.base_model_prepare_inputs_for_generation = base_with_old_name
    model.prepare_inputs_for_generation = peft_with_new_name
    model._llmkit_generation_fixed = True
    return model
