"""Which modules each model family's adapters attach to. Adding a family is one entry."""

from __future__ import annotations

from typing import Any

from llmkit.errors import LlmkitError

# model_type -> the attention and MLP projections that LoRA-style methods adapt by default.
LORA_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "glm": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"],
    "glm4": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "bert": ["query", "key", "value", "dense"],
}


def resolve_targets(requested: list[str], model_config: Any) -> list[str] | str:
    """[auto] -> the family's entry; [all-linear] -> peft's "all-linear"; anything else as given."""
    if requested == ["all-linear"]:
        return "all-linear"
    if requested != ["auto"]:
        return requested
    model_type = getattr(model_config, "model_type", None)
    if model_type not in LORA_TARGETS:
        raise LlmkitError(f"no default target modules for model type {model_type!r}; pass "
                          f"--set lora.target=[all-linear] or name the modules")
    return LORA_TARGETS[model_type]
