"""Load causal LMs, their tokenizers and adapters from a local folder or a Hub id, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmkit.data.chat import ensure_chat_template
from llmkit.errors import LlmkitError, first_line


def torch_dtype(name: str) -> Any:
    import torch

    if name == "auto":
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return getattr(torch, name)


def check_model_source(path: str) -> None:
    """A local path must exist; anything else must at least look like a Hub id (owner/name)."""
    local = Path(path).expanduser()
    if local.exists():
        if not (local / "config.json").is_file() and not (local / "adapter_config.json").is_file():
            raise LlmkitError(f"{path} is not a model folder (no config.json or adapter_config.json)")
        return
    if path.startswith((".", "/", "~")) or path.count("/") != 1:
        raise LlmkitError(f"model path {path} does not exist (and is not a Hub id like owner/name)")


def load_tokenizer(path: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    tokenizer = _from_pretrained(AutoTokenizer, path, trust_remote_code=trust_remote_code)
    ensure_chat_template(tokenizer)
    return tokenizer


def load_causal_lm(path: str, *, dtype: str = "auto", trust_remote_code: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer) for a causal LM folder or Hub id, on the GPU when there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    check_model_source(path)
    tokenizer = load_tokenizer(path, trust_remote_code)
    model = _from_pretrained(AutoModelForCausalLM, path, dtype=torch_dtype(dtype),
                             trust_remote_code=trust_remote_code)
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model, tokenizer


def adapter_base(adapter_dir: str) -> str:
    """The base model an adapter folder was trained on, as its adapter_config.json records it."""
    config_path = Path(adapter_dir).expanduser() / "adapter_config.json"
    if not config_path.is_file():
        raise LlmkitError(f"{adapter_dir} is not an adapter folder (no adapter_config.json)")
    base = json.loads(config_path.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise LlmkitError(f"{config_path} does not name its base model; pass --base")
    return base


def load_with_adapter(adapter_dir: str, base: str | None = None, *, dtype: str = "auto",
                      trust_remote_code: bool = False) -> tuple[Any, Any]:
    """(PeftModel, tokenizer): the base model with the adapter applied; the adapter's tokenizer wins."""
    from peft import PeftModel

    base = base or adapter_base(adapter_dir)
    model, tokenizer = load_causal_lm(base, dtype=dtype, trust_remote_code=trust_remote_code)
    if (Path(adapter_dir) / "tokenizer_config.json").is_file():
        tokenizer = load_tokenizer(adapter_dir, trust_remote_code)
    return PeftModel.from_pretrained(model, adapter_dir), tokenizer


def _from_pretrained(auto_class: Any, path: str, **kwargs: Any) -> Any:
    try:
        return auto_class.from_pretrained(path, **kwargs)
    except OSError as e:
        raise LlmkitError(f"cannot load {path}: {first_line(e)}") from e
