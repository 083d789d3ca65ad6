"""Load causal LMs, their tokenizers and adapters from a local folder or a Hub id, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmkit.data.chat import ensure_chat_template, ensure_pad_token
from llmkit.errors import LlmkitError, first_line


def torch_dtype(name: str) -> Any:
    import torch

    if name == "auto":
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return getattr(torch, name)


def model_source(path: str) -> str:
    """The local folder of a model path or Hub id (fetched, or found in the cache offline), checked to hold a model."""
    from llmkit.hub.resolve import resolve_source

    folder = Path(resolve_source(path))
    if not (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file():
        raise LlmkitError(f"{path} is not a model folder (no config.json or adapter_config.json)")
    return str(folder)


# Any one of these makes a folder loadable by AutoTokenizer (fast, config-only, or sentencepiece/BPE vocabularies).
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")


def load_tokenizer(path: str, trust_remote_code: bool = False, *, chat: bool = True) -> Any:
    """The tokenizer with a pad token and (for chat use) a chat template when it has none: the template of the
    model's family (llmkit.tuning.families), else the plain one. Training, chat, eval
    and merge all load through here, so a base without a template is prompted the same way in each."""
    from transformers import AutoTokenizer

    from llmkit.hub.resolve import resolve_source

    folder = resolve_source(path)
    if Path(folder).is_dir() and not any((Path(folder) / name).is_file() for name in _TOKENIZER_FILES):
        raise LlmkitError(f"{path} holds no tokenizer (none of {', '.join(_TOKENIZER_FILES)}); copy the "
                          f"tokenizer files of the model into it")
    tokenizer = _from_pretrained(AutoTokenizer, folder, trust_remote_code=trust_remote_code)
    if chat:
        ensure_chat_template(tokenizer, family_chat_template(Path(folder)))
    else:
        ensure_pad_token(tokenizer)
    return tokenizer


def family_chat_template(folder: Path) -> str | None:
    """The chat template of the family of the model in `folder` (None: no config.json, or a family without
    one). config.json's model_type is read as JSON: remote-code configs need no code run for it."""
    from llmkit.tuning.families import FAMILIES

    config = folder / "config.json"
    if not config.is_file():
        return None
    family = FAMILIES.get(json.loads(config.read_text(encoding="utf-8")).get("model_type"))
    return family.chat_template if family else None


def load_model(path: str, *, task: str = "sft", dtype: str = "auto", trust_remote_code: bool = False,
               labels: list[str] | None = None, pad_token_id: int | None = None,
               quantization: Any = None, model_kwargs: dict[str, Any] | None = None,
               attention: str = "auto") -> Any:
    """A causal LM (task sft) or a sequence classifier with a head for `labels` (task classify).

    `quantization` is a qlora recipe section: the weights are then quantised by bitsandbytes as they load.
    Without it the model goes to the GPU when there is one. `model_kwargs` reach from_pretrained (config
    overrides such as ChatGLM's pre_seq_len). `attention` is transformers' attn_implementation; auto leaves the
    choice to the model (remote-code models reject kernels they do not implement).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    path = model_source(path)
    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype), "trust_remote_code": trust_remote_code,
                              **(model_kwargs or {})}
    if attention != "auto":
        kwargs["attn_implementation"] = attention
    if quantization is not None:
        from llmkit.models.quantization import quantized_load_kwargs

        kwargs.update(quantized_load_kwargs(quantization, task))
    if task == "classify":
        if not labels:
            raise LlmkitError("a classifier needs its label names")
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={name: i for i, name in enumerate(labels)})
        if pad_token_id is not None:
            kwargs["pad_token_id"] = pad_token_id  # decoder classifiers pool the last non-pad token
        model = _from_pretrained(AutoModelForSequenceClassification, path, **kwargs)
    else:
        model = _from_pretrained(AutoModelForCausalLM, path, **kwargs)
    if quantization is None and torch.cuda.is_available():
        model = model.to("cuda")
    return model


def load_config(path: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoConfig

    return _from_pretrained(AutoConfig, model_source(path), trust_remote_code=trust_remote_code)


def _from_pretrained(auto_class: Any, path: str, **kwargs: Any) -> Any:
    try:
        return auto_class.from_pretrained(path, **kwargs)
    except OSError as e:
        raise LlmkitError(f"cannot load {path}: {first_line(e)}") from e
    except ValueError as e:
        if "trust_remote_code" in str(e):
            raise LlmkitError(f"{path} ships its own model code; pass --trust-remote-code (or set "
                              f"model.trust_remote_code) if you trust its source") from e
        raise
