"""What differs between model families, in one table. Adding a family is one entry.

Module names were read from transformers 5's modeling files (llama, glm, glm4, gpt2, bert) and from
the remote code of THUDM's ChatGLM2/3 checkpoints (`chatglm`, not shipped by transformers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.data.chat import PLAIN_TEMPLATE
from llmkit.errors import LlmkitError

# The GLM-4 chat layout for GLM tokenizers that come without a template (base checkpoints). GLM's
# tokenizers have [gMASK], <sop>, <|user|> and <|assistant|> as special tokens; the answer ends with EOS.
GLM_TEMPLATE = (
    "[gMASK]<sop>"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

# Heads that a classification task adds (LLaMA/GLM/GPT-2: score, BERT: classifier). They start random,
# so every method trains them in full and saves them with what it trains.
CLASSIFIER_HEADS = ("score", "classifier")

_LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_LLAMA_ADAPTER = ("o_proj", "down_proj")


@dataclass(frozen=True)
class Family:
    lora_targets: tuple[str, ...]  # attention and MLP projections that LoRA-style methods adapt
    # Bottleneck adapters follow the attention and FFN output projections. Each entry is a regex that
    # must match a whole dotted ending of a module's name ("o_proj" matches model.layers.0.self_attn.o_proj).
    adapter_targets: tuple[str, ...]
    blocks: str  # name (suffix) of the ModuleList of transformer blocks, for --method freeze
    chat_template: str = PLAIN_TEMPLATE  # used when the tokenizer has none
    # Packed rows need the attention mask built from position_ids; BERT's decoder mask ignores them.
    packing: bool = True
    # Bidirectional encoders pool the first token and need right padding (absolute positions);
    # decoders pool the last token, which left padding keeps in the last column.
    encoder: bool = False
    classify: bool = True  # has an AutoModelForSequenceClassification head
    # ChatGLM2/3's remote code has its own P-tuning v2 (config.pre_seq_len + transformer.prefix_encoder).
    native_ptuning_v2: bool = False


FAMILIES: dict[str, Family] = {
    "llama": Family(_LLAMA_LINEAR, _LLAMA_ADAPTER, "layers"),
    "mistral": Family(_LLAMA_LINEAR, _LLAMA_ADAPTER, "layers"),
    "qwen2": Family(_LLAMA_LINEAR, _LLAMA_ADAPTER, "layers"),
    # transformers' native GLM / GLM-4: LLaMA's attention names, one fused gate_up_proj in the MLP.
    "glm": Family(("q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"), _LLAMA_ADAPTER,
                  "layers", chat_template=GLM_TEMPLATE),
    "glm4": Family(("q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"), _LLAMA_ADAPTER,
                   "layers", chat_template=GLM_TEMPLATE),
    # GPT-2's projections are Conv1D (weight stored transposed); peft handles them.
    "gpt2": Family(("c_attn", "c_proj", "c_fc"), (r"attn\.c_proj", r"mlp\.c_proj"), "h"),
    # BERT's FFN output is layer.N.output.dense, its attention output layer.N.attention.output.dense: a
    # bare output.dense would match the attention one too, and dense the pooler and the MLM transform.
    "bert": Family(("query", "key", "value", "dense"),
                   (r"attention\.output\.dense", r"layer\.\d+\.output\.dense"), "encoder.layer",
                   packing=False, encoder=True),
    # Remote code (trust_remote_code): read from the checkpoints' modeling_chatglm.py, not run here (tests
    # run a stand-in with the same module names). Its own attention masks ignore position_ids: no packing.
    "chatglm": Family(("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
                      (r"self_attention\.dense", r"mlp\.dense_4h_to_h"), "encoder.layers",
                      chat_template=GLM_TEMPLATE, packing=False, classify=False, native_ptuning_v2=True),
}


def family_of(model_config: Any) -> Family | None:
    return FAMILIES.get(getattr(model_config, "model_type", None))


def resolve_targets(requested: list[str], model_config: Any) -> list[str] | str:
    """[auto] -> the family's LoRA targets; [all-linear] -> peft's "all-linear"; anything else as given."""
    if requested == ["all-linear"]:
        return "all-linear"
    if requested != ["auto"]:
        return requested
    family = family_of(model_config)
    if family is None:
        raise LlmkitError(f"no default target modules for model type {model_config.model_type!r}; pass "
                          f"--target all-linear or name the modules (known families: {', '.join(FAMILIES)})")
    return list(family.lora_targets)
