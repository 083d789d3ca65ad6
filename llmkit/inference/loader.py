"""One loader for every job that runs a model rather than trains it: `llmkit chat`, `llmkit eval`, the eval
judge's local model and `llmkit merge`.

`--model` (optionally with `--adapter`) names one of: a `llmkit finetune` output or a peft adapter (its base
is read from its manifest unless `--model` names one), a model folder, a Hub id, or a GGUF file. A plain
model's tokenizer without a chat template gets its family's (llmkit.models.loading.load_tokenizer), so a
GLM base is prompted the same way in chat and eval as it was in fine-tuning. llmkit's built-in base, by name
or as the base a fine-tuning output records, is built here on first use: the resolvers and loaders below
never start a pretraining run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.errors import LlmkitError


@dataclass
class InferenceModel:
    model: Any
    tokenizer: Any
    # The folders (or Hub ids) whose files make the model's outputs: base, then what was fine-tuned on it.
    sources: list[str]


def load_for_inference(model: str | None, *, adapter: str | None = None, dtype: str = "auto",
                       trust_remote_code: bool = False, quantized: bool = True, task: str | None = None,
                       job: str = "generation") -> InferenceModel:
    """The model `model` [+ `adapter`] names, in eval mode, with its tokenizer.

    `task` is the fine-tuning task the caller needs (sft: a causal LM, as chat and eval do; None: any);
    `job` names the caller in the errors. quantized=False loads a
    QLoRA adapter onto a full-precision base (what merging wants).
    """
    from llmkit.hub.resolve import resolve_source
    from llmkit.models.finetuned import is_finetune_output, load_finetuned, read_manifest
    from llmkit.workflows.builtin_base import expand_builtin_base

    # Resolved once: llmkit's built-in base by name is built on first use, a Hub id becomes its cached snapshot
    # folder, a GGUF file its converted folder, and a missing path is a one-line error.
    given = resolve_source(expand_builtin_base(model)) if model else None
    finetuned = resolve_source(adapter) if adapter else None
    if finetuned is None and given and is_finetune_output(given):
        given, finetuned = None, given
    if finetuned:
        manifest = read_manifest(finetuned)
        if task is not None and manifest.task != task:
            wanted = "a causal LM (task sft)" if task == "sft" else f"a model fine-tuned for {task}"
            raise LlmkitError(f"{finetuned} was fine-tuned for {manifest.task}; {job} needs {wanted}")
        loaded, tokenizer = load_finetuned(finetuned, base=given or expand_builtin_base(manifest.base_model),
                                           dtype=dtype, quantized=quantized)
        sources = [given or manifest.base_model, finetuned]
    elif given:
        from llmkit.models.loading import load_model, load_tokenizer

        tokenizer = load_tokenizer(given, trust_remote_code)
        loaded = load_model(given, dtype=dtype, trust_remote_code=trust_remote_code,
                            pad_token_id=tokenizer.pad_token_id)
        sources = [given]
    else:
        raise LlmkitError(f"{job} needs a model: a model folder, Hub id, GGUF file or fine-tuning output")
    loaded.eval()
    return InferenceModel(loaded, tokenizer, sources)
