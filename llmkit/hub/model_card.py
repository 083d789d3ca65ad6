"""The model card (README.md) `llmkit push` writes: what the folder holds, how it was trained (base model,
method, data, batch layout), its metrics from the run record, how to load it, its license and tags.

Everything is read from the folder itself: llmkit_run.json (the run record), llmkit_finetune.json (how a
fine-tuned output reloads), and the ecosystem's own files (adapter_config.json, config.json,
model_index.json), so a folder written by another tool gets a card too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit.cache import BUILTIN_BASE_NAME
from llmkit.data.images import BUILTIN
from llmkit.hub.resolve import looks_like_hub_id
from llmkit.jobs import JOBS
from llmkit.tuning.save_formats import SAVE_FORMATS

# The Auto class that loads an architecture, by the suffix transformers gives its class name.
_AUTO_CLASSES = (("ForCausalLM", "AutoModelForCausalLM", "text-generation"),
                 ("LMHeadModel", "AutoModelForCausalLM", "text-generation"),
                 ("ForSequenceClassification", "AutoModelForSequenceClassification", "text-classification"),
                 ("ForImageClassification", "AutoModelForImageClassification", "image-classification"),
                 ("ForMaskedLM", "AutoModelForMaskedLM", "fill-mask"))



@dataclass
class CardFacts:
    """What a folder holds and how it came to be, as the card states it."""

    what: str  # one sentence
    load_code: str
    library: str | None = None
    pipeline_tag: str | None = None
    base_model: str | None = None
    method: str | None = None
    job: str | None = None
    data: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


# peft's prompt-learning adapters (prefix tuning, P-tuning v2, prompt tuning, P-tuning) load in plain peft but
# do not generate there (peft 0.21 on transformers 5): transformers hands the KV cache over as `cache`, peft
# looks for `past_key_values`, sees none, and injects its prompt again at every step. llmkit's loader applies
# llmkit's fix (llmkit/tuning/prompt_generation.py).
PROMPT_LEARNING = ("PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING")
PLAIN_PEFT_GENERATION_BUG = (
    "\n# Plain `PeftModel.from_pretrained` loads this adapter too, but with peft 0.21 on transformers 5 its\n"
    "# `generate` misapplies the trained prompt (the KV cache arrives as `cache`, peft looks for\n"
    "# `past_key_values`), so answers ignore the question; load_for_inference fixes that.")


def model_card(folder: Path, repo: str, license: str) -> str:
    """README.md text with YAML metadata (validated by the Hub on upload) for the output in `folder`."""
    from huggingface_hub import ModelCardData

    facts = describe(folder, repo)
    metadata = ModelCardData(
        license=license, library_name=facts.library, pipeline_tag=facts.pipeline_tag,
        base_model=facts.base_model if facts.base_model and looks_like_hub_id(facts.base_model) else None,
        tags=sorted({"llmkit", *facts.tags}))
    lines = [f"---\n{metadata.to_yaml()}\n---", "", f"# {repo.split('/')[-1]}", "", facts.what, ""]
    lines += ["## Training", ""]
    about = {"llmkit command": f"`llmkit {facts.job}`" if facts.job else None, "base model": facts.base_model,
             "method": facts.method, "data": facts.data, **facts.training}
    lines += [f"- {key}: {value}" for key, value in about.items() if value not in (None, "")]
    if facts.metrics:
        lines += ["", "## Results", "", "| metric | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in facts.metrics.items()]
    lines += ["", "## How to load", "", "```python", facts.load_code, "```", "", "## License", "",
              f"{license}. A model trained from a base model is also bound by the base model's license.", ""]
    return "\n".join(lines)


def describe(folder: Path, repo: str) -> CardFacts:
    record = _read_json(folder / "llmkit_run.json")
    manifest = _read_json(folder / "llmkit_finetune.json")
    config = record.get("config", {})
    facts = _kind(folder, repo, manifest, record)
    facts.job = facts.job or _command(record.get("job"))
    facts.method = facts.method or manifest.get("method") or config.get("method")
    facts.data = _data_source(config, record.get("job"))
    facts.metrics = {k: v for k, v in record.get("metrics", {}).items() if isinstance(v, (int, float))}
    layout = record.get("distributed", {})
    facts.training = {"processes (world size)": layout.get("world_size"),
                      "batch size per device / global": f"{layout['per_device_batch_size']} / "
                      f"{layout['global_batch_size']}" if layout else None,
                      "versions": ", ".join(f"{k} {v}" for k, v in record.get("versions", {}).items()
                                            if k in ("llmkit", "torch", "transformers", "peft", "diffusers"))}
    facts.tags += [t for t in (record.get("job"), facts.method) if t]  # "gan", not the command "gan train"
    return facts


def _kind(folder: Path, repo: str, manifest: dict[str, Any], record: dict[str, Any]) -> CardFacts:
    """What the folder holds, and the code that loads it from `repo`."""
    if (folder / "model_index.json").is_file():
        pipeline = _read_json(folder / "model_index.json").get("_class_name", "DiffusionPipeline")
        return CardFacts(what=f"A diffusers `{pipeline}`, trained with llmkit.", library="diffusers",
                         load_code=f'from diffusers import DiffusionPipeline\n\n'
                                   f'pipeline = DiffusionPipeline.from_pretrained("{repo}")',
                         tags=["diffusers"])
    adapter = _read_json(folder / "adapter_config.json")
    base = manifest.get("base_model") or adapter.get("base_model_name_or_path") or record.get("base_model")
    task = manifest.get("task") or ("classify" if adapter.get("task_type") == "SEQ_CLS" else "sft")
    auto, pipeline_tag = ("AutoModelForSequenceClassification", "text-classification") if task == "classify" \
        else ("AutoModelForCausalLM", "text-generation")
    form = SAVE_FORMATS.get(manifest.get("format") or ("adapter" if adapter else ""))
    llmkit_load = (f'from llmkit.inference import load_for_inference\n\n'
                   f'loaded = load_for_inference(None, adapter="{repo}")  # fetches (or builds) the base model too\n'
                   f'model, tokenizer = loaded.model, loaded.tokenizer')
    if form is not None and form.name == "adapter":
        peft_type = adapter.get("peft_type", "peft").lower()
        plain = (f'from peft import PeftModel\nfrom transformers import {auto}\n\n'
                 f'base = {auto}.from_pretrained("{base}")\nmodel = PeftModel.from_pretrained(base, "{repo}")'
                 + (f"\n# or, with llmkit: llmkit chat {repo}" if task == "sft" else ""))
        if task == "sft" and peft_type.upper() in PROMPT_LEARNING:
            load_code = llmkit_load + PLAIN_PEFT_GENERATION_BUG
        else:  # llmkit's built-in base exists only where llmkit builds it: plain transformers cannot load it
            load_code = llmkit_load if base == BUILTIN_BASE_NAME else plain
        return CardFacts(
            what=form.card.format(kind=peft_type, base=base), library="peft",
            pipeline_tag=pipeline_tag, base_model=base, method=manifest.get("method") or peft_type,
            load_code=load_code, tags=["peft", peft_type])
    if form is not None and not form.plain_loading:  # llmkit's own formats
        return CardFacts(what=form.card.format(base=base), pipeline_tag=pipeline_tag, base_model=base,
                         load_code=llmkit_load, tags=[form.name])
    model_config = _read_json(folder / "config.json")
    if not model_config:
        return CardFacts(what="Files written by llmkit.", load_code=f'from huggingface_hub import snapshot_download'
                                                                    f'\n\nfolder = snapshot_download("{repo}")')
    architecture = (model_config.get("architectures") or ["AutoModel"])[0]
    auto, pipeline_tag = next(((a, t) for suffix, a, t in _AUTO_CLASSES if architecture.endswith(suffix)),
                              ("AutoModel", None))
    own_type = str(model_config.get("model_type", "")).startswith("llmkit-")
    tokenizer = (folder / "tokenizer_config.json").is_file()
    code = ("import llmkit  # registers llmkit's model types with transformers\n" if own_type else "")
    code += f"from transformers import {auto}{', AutoTokenizer' if tokenizer else ''}\n\n"
    code += f'model = {auto}.from_pretrained("{repo}")'
    code += f'\ntokenizer = AutoTokenizer.from_pretrained("{repo}")' if tokenizer else ""
    what = (form.card.format(base=base) if form is not None and form.name == "model"
            else f"A `{architecture}` ({model_config.get('model_type')}), trained with llmkit.")
    return CardFacts(what=what,
                     library=None if own_type else "transformers", pipeline_tag=pipeline_tag,
                     base_model=base if form is not None and form.name == "model" else None, load_code=code,
                     tags=[str(model_config.get("model_type"))])


def _command(job: str | None) -> str | None:
    """The command that ran the record's job ("gan" -> "gan train"); a name outside the table as it stands."""
    return JOBS[job].command if job in JOBS else job


def _data_source(config: dict[str, Any], job: str | None) -> str | None:
    data = config.get("data", {}) if isinstance(config.get("data"), dict) else {}
    corpus = config.get("corpus", {}) if isinstance(config.get("corpus"), dict) else {}
    if data.get("path"):
        return f"built-in `{data['path']}`" if data["path"] in BUILTIN else f"`{data['path']}`"
    if corpus.get("path"):
        return ", ".join(f"`{p}`" for p in corpus["path"])
    if job == "pretrain" or corpus:
        return "llmkit's built-in generated corpus"
    if job == "finetune":
        return ("llmkit's built-in English sentiment task" if config.get("task") == "classify"
                else "llmkit's built-in bilingual demo tasks")
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}
