"""Typed job configurations, and how a recipe, flags and `--set` overrides become one.

Precedence, lowest first: the dataclass defaults < the recipe YAML < explicit CLI flags < `--set a.b=c`.
Every layer is a nested dict of plain values; `build_config` checks each key and type against the
dataclasses before any model is loaded, so a typo fails in a second with the valid keys listed.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from llmkit.errors import LlmkitError


def _help(text: str, default: Any = dataclasses.MISSING, *, at_least: float | None = None,
          above: float | None = None, at_most: float | None = None, below: float | None = None,
          **kwargs: Any) -> Any:
    """A dataclass field whose one-line help text is shown by `llmkit recipes show` and in errors.

    at_least / above / at_most / below declare the range a number must lie in (inclusive / exclusive);
    `build_config` checks them, so a bad value fails before any model loads, with the key named.
    """
    bounds = {k: v for k, v in (("at_least", at_least), ("above", above), ("at_most", at_most), ("below", below))
              if v is not None}
    metadata = {"help": text, "bounds": bounds}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata, **kwargs)
    return field(default=default, metadata=metadata, **kwargs)


# ----------------------------------------------------------------------------------------------
# Sections shared by the jobs

Dtype = Literal["auto", "float32", "bfloat16", "float16"]


@dataclass
class ModelSection:
    path: str | None = _help("Local model folder or Hub id. None: llmkit's built-in base model.", None)
    trust_remote_code: bool = _help("Run model code shipped with the checkpoint (only for sources you trust).",
                                    False)
    dtype: Dtype = _help(
        "Weights dtype. auto: bfloat16 on a GPU that supports it, float32 otherwise.", "auto")
    attention: Literal["auto", "sdpa", "eager", "flash_attention_2", "flex_attention"] = _help(
        "Attention kernel (transformers' attn_implementation). auto: the model's default, SDPA where it has it.",
        "auto")


# transformers' SchedulerType names that need no extra arguments.
Scheduler = Literal["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                    "inverse_sqrt"]


@dataclass
class TrainSection:
    epochs: float = _help("Passes over the training data (ignored when max_steps > 0).", 3.0, above=0)
    max_steps: int = _help("Stop after this many optimizer steps; 0 means use epochs.", 0, at_least=0)
    batch_size: int = _help("Examples per device per step.", 16, at_least=1)
    grad_accum: int = _help("Gradient accumulation steps (global batch = batch_size x grad_accum x devices).",
                            1, at_least=1)
    lr: float = _help("Peak learning rate (pretrain: 0 takes the architecture's default, 1e-3 for BERT, 3e-3 "
                      "for GPT-2 and LLaMA).", 2e-4, at_least=0)
    scheduler: Scheduler = _help("Learning-rate schedule (transformers' SchedulerType).", "cosine")
    warmup_ratio: float = _help("Fraction of steps spent warming up the learning rate.", 0.03, at_least=0)
    weight_decay: float = _help("AdamW weight decay.", 0.0, at_least=0)
    max_grad_norm: float = _help("Gradient clipping norm.", 1.0, at_least=0)
    seed: int = _help("Random seed for data order, initialisation and dropout.", 42)
    logging_steps: int = _help("Log loss every this many steps.", 10, at_least=1)
    gradient_checkpointing: bool = _help("Recompute activations in backward to save memory.", False)
    report_to: list[str] = _help("Extra loggers, e.g. [tensorboard]. Empty: only llmkit's own logs.", [])
    num_workers: int = _help("DataLoader worker processes.", 0, at_least=0)
    # The GPU fast path: each switch is on where it applies and can be turned off; on CPU they do nothing.
    bf16: bool = _help("bfloat16 mixed precision on GPUs that support it.", True)
    fused_optimizer: bool = _help("torch's fused AdamW kernel on CUDA (one launch for all parameters).", True)
    liger: bool = _help("Liger Triton kernels on CUDA (RMSNorm, RoPE, SwiGLU, fused linear cross-entropy that never "
                        "materialises the logits) for the architectures Liger patches; needs liger-kernel.", True)
    torch_compile: bool = _help("Compile the model with torch.compile on CUDA (the first steps are slow).", False)


# ----------------------------------------------------------------------------------------------
# Fine-tuning


@dataclass
class DataSection:
    path: str | None = _help(
        "JSON/JSONL/CSV/Parquet file or folder of them, alpaca or messages/sharegpt form. "
        "None: llmkit's built-in bilingual demo tasks; numerals: the built-in Chinese numerals task "
        "(47 -> 四十七, 360 training chats, 54 held-out numbers), made for real pretrained models.", None)
    format: Literal["auto", "alpaca", "messages", "sharegpt"] = _help(
        "Record layout; auto detects it from the columns.", "auto")
    eval_path: str | None = _help("Held-out file in the same form, for exact match before/after.", None)
    max_length: int = _help("Tokens per example; longer ones are truncated (and counted in the log).", 512, at_least=1)
    packing: bool = _help(
        "Padding-free batches: pack examples into rows of max_length tokens; attention never crosses examples.",
        True)
    system: str | None = _help("System prompt put before every conversation that has none.", None)
    limit: int = _help("Use only the first N training examples (0: all).", 0, at_least=0)
    text_column: str = _help("task=classify: the column holding the text.", "text")
    text_pair_column: str | None = _help("task=classify: a second text column for pair tasks (e.g. NLI).", None)
    label_column: str = _help("task=classify: the column holding the label (a name or an integer).", "label")


@dataclass
class LoraSection:
    """LoRA (Hu et al. 2021); also the low-rank part of dora, qlora and adalora."""

    r: int = _help("LoRA rank.", 16, at_least=1)
    alpha: int = _help("LoRA scaling numerator (scale = alpha / r).", 32, above=0)
    dropout: float = _help("Dropout on the LoRA input.", 0.05, at_least=0, below=1)
    target: list[str] = _help(
        "Module names to adapt; [auto] picks the model family's attention and MLP projections, "
        "[all-linear] every linear layer but the output head.", ["auto"])


@dataclass
class QloraSection:
    """The quantised base of QLoRA (Dettmers et al. 2023): 4-bit NormalFloat with double quantisation."""

    bits: Literal[4, 8] = _help("Base weights in 4-bit (NF4/FP4) or 8-bit (LLM.int8) through bitsandbytes.", 4)
    quant_type: Literal["nf4", "fp4"] = _help("4-bit data type; NF4 is the paper's.", "nf4")
    double_quant: bool = _help("Quantise the quantisation constants too (the paper's double quantisation).", True)
    compute_dtype: Dtype = _help(
        "Dtype of the de-quantised matmuls. auto: bfloat16 on a GPU that has it, float32 otherwise.", "auto")


@dataclass
class AdaLoraSection:
    """AdaLoRA (Zhang et al. 2023): SVD-shaped LoRA whose rank budget moves to the modules that matter."""

    init_r: int = _help("Starting rank of every module (the paper starts at 1.5x the target budget).", 12, at_least=1)
    target_r: int = _help("Average rank per module once the budget is allocated.", 8, at_least=1)
    tinit: float = _help("Warm-up before pruning ranks, as a fraction of the training steps.", 0.1, at_least=0, below=1)
    tfinal: float = _help("Final fine-tuning with frozen ranks, as a fraction of the training steps.",
                          0.2, at_least=0, below=1)
    delta_t: int = _help("Steps between two budget re-allocations (the paper's Delta T).", 10, at_least=1)
    beta1: float = _help("EMA factor of the importance sensitivity.", 0.85, above=0, below=1)
    beta2: float = _help("EMA factor of the importance uncertainty.", 0.85, above=0, below=1)
    orth_reg_weight: float = _help("Weight of the orthogonality regulariser on P and Q.", 0.5, at_least=0)


@dataclass
class FreezeSection:
    """Partial fine-tuning: everything frozen but the last blocks and any named modules."""

    last_layers: int = _help("Train the last N transformer blocks (0: none).", 2, at_least=0)
    modules: list[str] = _help("Also train parameters whose names contain one of these, e.g. [lm_head, norm].",
                               [])


@dataclass
class AdapterSection:
    """Bottleneck adapters (Houlsby et al. 2019) after the attention and FFN output projections."""

    bottleneck_size: int = _help("Width of the adapter bottleneck (the paper's code default; it sweeps 8-256).",
                                 64, at_least=1)
    non_linearity: Literal["relu", "gelu"] = _help("Activation inside the bottleneck (the paper's code: gelu).",
                                                   "gelu")
    target: list[str] = _help("Modules to follow with an adapter; [auto]: the family's attention and FFN "
                              "output projections.", ["auto"])
    train_norms: bool = _help("Also train the layer norms, as the paper does.", True)


@dataclass
class PrefixSection:
    """Prefix tuning (Li & Liang 2021): trainable key/value prefixes on every layer, through an MLP."""

    num_virtual_tokens: int = _help("Prefix length (the paper's 10 for table-to-text).", 10, at_least=1)
    encoder_hidden_size: int = _help("Hidden width of the reparameterising MLP (the paper's 512).", 512, at_least=1)


@dataclass
class PromptSection:
    """Prompt tuning (Lester et al. 2021): trainable input embeddings before the prompt."""

    num_virtual_tokens: int = _help("Soft prompt length (the paper's 20 is within 1 point of 100 at scale).",
                                    20, at_least=1)
    init_text: str | None = _help("Initialise the soft prompt from this text's embeddings (None: random).", None)


@dataclass
class PtuningSection:
    """P-tuning (Liu et al. 2021, GPT Understands, Too): virtual tokens produced by a prompt encoder."""

    num_virtual_tokens: int = _help("Virtual tokens before the prompt.", 20, at_least=1)
    encoder: Literal["lstm", "mlp"] = _help("Prompt encoder: the paper's bidirectional LSTM + MLP, or an MLP.",
                                            "lstm")
    encoder_hidden_size: int = _help("Hidden width of the prompt encoder.", 128, at_least=1)


@dataclass
class PtuningV2Section:
    """P-tuning v2 (Liu et al. 2022): deep prompts on every layer, no reparameterisation."""

    num_virtual_tokens: int = _help("Prompt length per layer (the paper: 20 for classification, up to 100 "
                                    "for hard sequence tasks; ChatGLM's example uses 128).", 20, at_least=1)


@dataclass
class FinetuneTrainSection(TrainSection):
    """TrainSection with fine-tuning's resumable checkpoints (a subclass, so a layer that sets one key keeps
    the defaults of the others)."""

    lr: float = _help("Peak learning rate. 0: the method's own default (`llmkit methods NAME` shows it).",
                      0.0, at_least=0)
    save_steps: int = _help("Write a resumable checkpoint every this many steps (0: none; a run shorter than this "
                            "writes none). Ctrl-C also writes one, unless this is 0.", 500, at_least=0)
    keep_checkpoints: int = _help("Checkpoints kept (the oldest are deleted; 0: all).", 2, at_least=0)


@dataclass
class EvalSection:
    max_samples: int = _help("Held-out examples scored by exact match before and after training (0: none).",
                             200, at_least=0)
    max_new_tokens: int = _help("Tokens generated per answer when scoring.", 16, at_least=1)
    batch_size: int = _help("Prompts generated at once when scoring.", 32, at_least=1)
    before: bool = _help("Also score the base model before training (for the before/after table).", True)


@dataclass
class FinetuneConfig:
    method: str = _help("Fine-tuning method (see `llmkit methods`).", "lora")
    task: Literal["sft", "classify"] = _help(
        "sft: causal-LM fine-tuning on chat data; classify: sequence classification with a new head.", "sft")
    output: str | None = _help("Output folder. None: runs/finetune-<method>-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)
    resume: bool = _help("Continue the run in `output` from its last checkpoint.", False)
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    lora: LoraSection = field(default_factory=LoraSection)
    qlora: QloraSection = field(default_factory=QloraSection)
    adalora: AdaLoraSection = field(default_factory=AdaLoraSection)
    freeze: FreezeSection = field(default_factory=FreezeSection)
    adapter: AdapterSection = field(default_factory=AdapterSection)
    prefix: PrefixSection = field(default_factory=PrefixSection)
    prompt: PromptSection = field(default_factory=PromptSection)
    ptuning: PtuningSection = field(default_factory=PtuningSection)
    ptuning_v2: PtuningV2Section = field(default_factory=PtuningV2Section)
    train: FinetuneTrainSection = field(default_factory=FinetuneTrainSection)
    eval: EvalSection = field(default_factory=EvalSection)


# ----------------------------------------------------------------------------------------------
# Pretraining


@dataclass
class CorpusSection:
    path: list[str] = _help("Text files or folders (.txt, .md, .jsonl, .json, .parquet). Empty: the built-in "
                            "corpus.", [])
    text_column: str = _help("Column holding the text in JSONL/Parquet files.", "text")
    streaming: bool = _help("Read the files through a streaming `datasets` iterator instead of converting them "
                            "to Arrow first; stops at max_documents when that is set. The documents and their "
                            "tokens are still held in memory.", False)
    max_documents: int = _help("Use only the first N documents (0: all).", 0, at_least=0)
    builtin_documents: int = _help("Documents generated for the built-in corpus.", 30000, at_least=1)
    validation_fraction: float = _help("Fraction of blocks held out for validation loss.", 0.02, above=0, below=1)
    block_size: int = _help("Tokens per training block (documents are packed with EOS between). 0: the preset's.",
                            0, at_least=0)


@dataclass
class TokenizerSection:
    path: str | None = _help("Reuse this tokenizer instead of training one.", None)
    vocab_size: int = _help("Vocabulary size of the trained tokenizer (byte-level BPE for gpt2/llama, WordPiece "
                            "for bert). 0: the preset's.", 0, at_least=0)


@dataclass
class ArchSection:
    type: Literal["llama", "gpt2", "bert"] = _help(
        "Architecture built from config: llama or gpt2 (causal LM), bert (masked LM).", "llama")
    preset: str = _help("Named shape the keys below default to: tiny (~1.3M), small (~9M), gpt2-124m "
                        "(see `llmkit pretrain --help`).", "tiny")
    hidden_size: int = _help("Model width (0: the preset's).", 0, at_least=0)
    layers: int = _help("Transformer blocks (0: the preset's).", 0, at_least=0)
    heads: int = _help("Attention heads (0: the preset's).", 0, at_least=0)
    intermediate_size: int = _help("MLP width (0: the preset's).", 0, at_least=0)
    max_position_embeddings: int = _help("Longest sequence the model accepts (0: the preset's).", 0, at_least=0)
    dropout: float = _help("Dropout in every block (0 is usual when pretraining on one pass of data).",
                           0.0, at_least=0, below=1)
    attention: Literal["auto", "sdpa", "eager", "flash_attention_2", "flex_attention"] = _help(
        "Attention kernel (transformers' attn_implementation). auto: SDPA (flash attention on CUDA).", "auto")
    pad_vocab_to: int = _help("Round the embedding rows up to a multiple of this (64: tensor-core friendly, "
                              "as nanoGPT's 50304); the extra rows are never produced by the tokenizer.",
                              64, at_least=1)


@dataclass
class MonitorSection:
    eval_steps: int = _help("Validation loss every this many steps (0: only at the end).", 200, at_least=0)
    eval_batches: int = _help("Validation batches per evaluation (0: the whole validation split).", 0, at_least=0)
    sample_steps: int = _help("Log sample generations (GPT/LLaMA) or fill-mask examples (BERT) every this many "
                              "steps (0: only at the end).", 500, at_least=0)
    samples: int = _help("Examples shown each time (prompts are the starts of validation blocks).", 2, at_least=0)
    sample_tokens: int = _help("Tokens generated per sample (greedy).", 24, at_least=1)
    save_steps: int = _help("Write a checkpoint every this many steps (0: none); --resume continues from the last.",
                            500, at_least=0)
    keep_checkpoints: int = _help("Checkpoints kept (the oldest are deleted).", 2, at_least=0)
    peak_tflops: float = _help("Peak dense TFLOP/s that MFU is measured against. 0: the device's from llmkit's "
                               "table (H100/H200 989 bf16); no MFU where the peak is unknown (CPUs).", 0.0, at_least=0)


@dataclass
class PretrainConfig:
    output: str | None = _help("Output folder. None: runs/pretrain-<arch>-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)
    resume: bool = _help("Continue the run in `output` from its last checkpoint.", False)
    corpus: CorpusSection = field(default_factory=CorpusSection)
    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    arch: ArchSection = field(default_factory=ArchSection)
    monitor: MonitorSection = field(default_factory=MonitorSection)
    train: TrainSection = field(default_factory=lambda: TrainSection(
        epochs=1.0, batch_size=32, lr=0.0, warmup_ratio=0.05, weight_decay=0.1, logging_steps=25,
        torch_compile=True))


JOBS: dict[str, type] = {"finetune": FinetuneConfig, "pretrain": PretrainConfig}


# ----------------------------------------------------------------------------------------------
# Building a config from layers


def parse_set_overrides(items: list[str]) -> dict[str, Any]:
    """Turn ["train.lr=1e-4", "lora.target=[q_proj,v_proj]"] into a nested dict (values parsed as YAML)."""
    nested: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise LlmkitError(f"--set expects KEY=VALUE (e.g. train.lr=1e-4), got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise LlmkitError(f"--set {item!r}: the value is not valid YAML ({e.problem})") from None
        set_dotted(nested, key.strip(), value)
    return nested


def set_dotted(nested: dict[str, Any], dotted_key: str, value: Any) -> None:
    parts = dotted_key.split(".")
    node = nested
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise LlmkitError(f"cannot set {dotted_key!r}: {part!r} is a value, not a section")
    node[parts[-1]] = value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_config(cls: type, *layers: dict[str, Any], source: str = "config") -> Any:
    """Build dataclass `cls` from the defaults overlaid with each layer in turn, checking keys and types."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer or {})
    return _build(cls, merged, prefix="", source=source)


def _build(cls: type, values: dict[str, Any], prefix: str, source: str) -> Any:
    if not isinstance(values, dict):
        raise LlmkitError(f"{source}: '{prefix.rstrip('.') or 'the top level'}' must be a mapping of keys, "
                          f"got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise LlmkitError(f"{source}: unknown key '{prefix}{unknown[0]}'; valid keys here: "
                          f"{', '.join(prefix + name for name in fields)}")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if isinstance(value, dict):
                # Start from the field's own default instance, so a job whose section defaults differ
                # from the class's (pretrain's train section) keeps them for the keys a layer leaves out.
                value = {**_field_defaults(fields[name]), **value}
            kwargs[name] = _build(hint, value, prefix=f"{prefix}{name}.", source=source)
        else:
            kwargs[name] = _coerce(value, hint, f"{prefix}{name}", source)
            _check_bounds(kwargs[name], fields[name].metadata.get("bounds", {}), f"{prefix}{name}", source)
    return cls(**kwargs)


_BOUND_WORDS = {"at_least": ("at least", operator.ge), "above": ("greater than", operator.gt),
                "at_most": ("at most", operator.le), "below": ("less than", operator.lt)}


def _check_bounds(value: Any, bounds: dict[str, float], key: str, source: str) -> None:
    """Refuse a number outside its field's declared range, and any NaN or infinity."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if not math.isfinite(value):
        raise LlmkitError(f"{source}: '{key}' must be a finite number; got {value!r}")
    failed = [kind for kind, bound in bounds.items() if not _BOUND_WORDS[kind][1](value, bound)]
    if failed:
        allowed = " and ".join(f"{_BOUND_WORDS[kind][0]} {_number(bound)}" for kind, bound in bounds.items())
        raise LlmkitError(f"{source}: '{key}' must be {allowed}; got {value!r}")


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _field_defaults(f: dataclasses.Field) -> dict[str, Any]:
    if f.default_factory is dataclasses.MISSING:
        return {}
    default = f.default_factory()
    return {sub.name: getattr(default, sub.name) for sub in dataclasses.fields(default)}


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    """Accept `value` for a field typed `hint`, converting the few safe cases (1 -> 1.0, "1e-4" -> 0.0001)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, key, source)
    if origin is Literal:
        if value in args:
            return value
        raise LlmkitError(f"{source}: '{key}' must be one of {', '.join(map(str, args))}; got {value!r}")
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise LlmkitError(f"{source}: '{key}' must be a list, got {value!r}")
        return [_coerce(v, args[0], f"{key}[{i}]", source) for i, v in enumerate(value)]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-4" (no dot) as a string
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    raise LlmkitError(f"{source}: '{key}' must be {_type_name(hint)}, got {value!r}")


def _type_name(hint: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def method_hyperparameters(config: Any, section: str | None) -> list[tuple[str, Any, str]]:
    """(dotted key, value, help) of every field in a method's recipe section."""
    if section is None:
        return []
    values = getattr(config, section)
    return [(f"{section}.{f.name}", getattr(values, f.name), f.metadata.get("help", ""))
            for f in dataclasses.fields(values)]


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def to_yaml(config: Any) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True)


# ----------------------------------------------------------------------------------------------
# Training a classic model (`llmkit train`): MLP, LeNet-5, AlexNet, VGG, GoogLeNet, ResNet, RNNs


@dataclass
class ClassicModelSection:
    name: str = _help("Model preset from `llmkit models` (e.g. lenet5, resnet18-small, lstm).", "lenet5")
    options: list[str] = _help(
        "Config overrides KEY=VALUE, the value read as YAML, e.g. [hidden_size=64, bidirectional=true].", [])


@dataclass
class ClassicDataSection:
    path: str = _help("digits (built in, 8x8), xor (built in), an image folder (one subfolder per class; "
                      "train/ and test/ keep their split), a .csv of numbers, a .npz (x, y), a .csv/.jsonl of "
                      "texts and labels (RNNs), or a .txt corpus (character language model).", "digits")
    label_column: str = _help("CSV/JSONL column holding the label.", "label")
    text_column: str = _help("CSV/JSONL column holding the text (RNN text classification).", "text")
    tokenizer: str | None = _help("Tokenizer folder for text classification; None: characters of the training "
                                  "texts.", None)
    max_length: int = _help("Tokens kept per text (text classification).", 256, at_least=1)
    image_shape: list[int] = _help("Shape of each flat CSV/NumPy example as an image, e.g. [1, 28, 28]; "
                                   "needed by CNNs and RNNs on flat features.", [])
    image_size: int = _help("Resize images to this side (0: the model's own, e.g. 32 for lenet5).", 0, at_least=0)
    shift: int = _help("Move each training image by up to this many pixels, at random (0: off; image models).",
                       0, at_least=0)
    test_fraction: float = _help("Held-out fraction (stratified) when the data has no test split.",
                                 0.2, above=0, below=1)
    split_seed: int = _help("Seed of the train/test split, kept apart from train.seed so the test set is fixed.",
                            0)
    limit: int = _help("Use only the first N training examples (0: all).", 0, at_least=0)
    block_size: int = _help("Characters per training sequence (character language model).", 128, at_least=1)


@dataclass
class ClassicTrainSection(TrainSection):
    """TrainSection with defaults for small networks on small data (a subclass, not a default_factory,
    so that a recipe or flag that sets one key keeps these defaults for the others)."""

    epochs: float = _help("Passes over the training data (ignored when max_steps > 0).", 10.0, above=0)
    batch_size: int = _help("Examples per device per step.", 64, at_least=1)
    lr: float = _help("Peak learning rate (AdamW).", 1e-3, above=0)
    warmup_ratio: float = _help("Fraction of steps spent warming up the learning rate.", 0.0, at_least=0)
    weight_decay: float = _help("AdamW weight decay.", 1e-4, at_least=0)


@dataclass
class ClassicTrainConfig:
    output: str | None = _help("Output folder. None: runs/train-<model>-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)
    model: ClassicModelSection = field(default_factory=ClassicModelSection)
    data: ClassicDataSection = field(default_factory=ClassicDataSection)
    train: ClassicTrainSection = field(default_factory=ClassicTrainSection)


# The job is named after its recipe folder (recipes/classic/); the command that runs it is `llmkit train`.
JOBS["classic"] = ClassicTrainConfig


# ----------------------------------------------------------------------------------------------
# Generative models: DCGAN (`llmkit gan`) and diffusion (`llmkit diffusion`)


@dataclass
class GenerativeDataSection:
    path: str = _help("digits (built in: the training split of the 8x8 digits, upscaled) or a folder of images "
                      "(class subfolders and a metadata.jsonl with captions are optional).", "digits")
    image_size: int = _help("Images are centre-cropped and resized to this side.", 32, at_least=1)
    channels: int = _help("1 (grey) or 3 (RGB) to convert; 0 keeps the data's own.", 0, at_least=0, at_most=3)
    caption_column: str = _help("Folder metadata column holding each image's caption (text-to-image).", "text")
    limit: int = _help("Use only the first N images (0: all).", 0, at_least=0)


@dataclass
class GenerativeTrainSection:
    """The Accelerator loop of the generative models (GAN and diffusion share it)."""

    epochs: float = _help("Passes over the training images (ignored when max_steps > 0).", 20.0, above=0)
    max_steps: int = _help("Stop after this many optimizer steps; 0 means use epochs.", 0, at_least=0)
    batch_size: int = _help("Images per device per step.", 64, at_least=1)
    lr: float = _help("Learning rate (Adam/AdamW).", 2e-4, above=0)
    seed: int = _help("Seed of the initialisation, the batch order and the noise (a run repeats exactly).", 42)
    logging_steps: int = _help("Log the losses every this many steps.", 25, at_least=1)
    sample_every: int = _help("Write a grid of samples from fixed noise every this many steps (0: only at the end).",
                              500, at_least=0)
    save_every: int = _help("Save a resumable checkpoint every this many steps (0: never).", 1000, at_least=0)
    keep_checkpoints: int = _help("Keep only the newest N checkpoints.", 2, at_least=0)
    resume: str | None = _help("Resume from a checkpoint folder, or 'latest' (the newest in this output).", None)
    grid_size: int = _help("Samples in each grid.", 64, at_least=1)


@dataclass
class GanModelSection:
    latent_size: int = _help("Length of the noise vector z (the paper's 100).", 100, at_least=1)
    generator_channels: int = _help("G's width at its last hidden layer (pytorch/examples' ngf).", 64, at_least=1)
    discriminator_channels: int = _help("D's width at its first layer (pytorch/examples' ndf).", 64, at_least=1)


@dataclass
class GanTrainSection(GenerativeTrainSection):
    """Radford et al.: Adam, lr 2e-4, beta1 0.5, batch 128 (pytorch/examples: 64)."""

    beta1: float = _help("Adam beta1 (the paper lowers it from 0.9 to 0.5 for stability).", 0.5, at_least=0, below=1)
    beta2: float = _help("Adam beta2.", 0.999, at_least=0, below=1)


@dataclass
class GanConfig:
    output: str | None = _help("Output folder. None: runs/gan-dcgan-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)
    model: GanModelSection = field(default_factory=GanModelSection)
    data: GenerativeDataSection = field(default_factory=GenerativeDataSection)
    train: GanTrainSection = field(default_factory=GanTrainSection)


@dataclass
class UNetSection:
    block_out_channels: list[int] = _help("Channels of each UNet resolution level (one entry per level).",
                                          [32, 64, 64])
    attention: list[bool] = _help("Self-attention at each level, same length as block_out_channels.",
                                  [False, False, True])
    layers_per_block: int = _help("ResNet blocks per level.", 1, at_least=1)
    norm_num_groups: int = _help("GroupNorm groups (must divide every channel count).", 8, at_least=1)
    dropout: float = _help("Dropout in the ResNet blocks.", 0.0, at_least=0, below=1)


@dataclass
class NoiseScheduleSection:
    num_train_timesteps: int = _help("Diffusion steps T (the DDPM paper's 1000).", 1000, at_least=1)
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = _help(
        "Noise schedule: linear (Ho et al. 2020) or squaredcos_cap_v2 (cosine, Nichol & Dhariwal 2021).", "linear")
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = _help("What the UNet predicts.", "epsilon")


@dataclass
class DiffusionTrainSection(GenerativeTrainSection):
    lr: float = _help("Peak learning rate (AdamW), reached after the warm-up, then cosine decay.", 1e-3, above=0)
    warmup_steps: int = _help("Linear learning-rate warm-up steps.", 100, at_least=0)
    weight_decay: float = _help("AdamW weight decay.", 0.0, at_least=0)
    max_grad_norm: float = _help("Gradient clipping norm.", 1.0, at_least=0)
    ema_decay: float = _help("Largest EMA decay of the weights that are saved and sampled.",
                             0.999, at_least=0, at_most=1)
    ema_power: float = _help("EMA warm-up power: decay = 1 - (1 + step)^-power, capped at ema_decay "
                             "(3/4 suits short runs).", 0.75, above=0)
    sample_steps: int = _help("DDIM steps for the grids written during training.", 50, at_least=1)


@dataclass
class DiffusionConfig:
    output: str | None = _help("Output folder (a DDPMPipeline folder). None: runs/diffusion-ddpm-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)
    unet: UNetSection = field(default_factory=UNetSection)
    scheduler: NoiseScheduleSection = field(default_factory=NoiseScheduleSection)
    data: GenerativeDataSection = field(default_factory=GenerativeDataSection)
    train: DiffusionTrainSection = field(default_factory=DiffusionTrainSection)


@dataclass
class DiffusionLoraSection:
    r: int = _help("LoRA rank on the UNet's attention projections.", 4, at_least=1)
    alpha: int = _help("LoRA scaling numerator (scale = alpha / r).", 4, above=0)
    dropout: float = _help("Dropout on the LoRA input.", 0.0, at_least=0, below=1)
    target: list[str] = _help("UNet modules to adapt (diffusers' LoRA script: the attention projections).",
                              ["to_k", "to_q", "to_v", "to_out.0"])


@dataclass
class DiffusionFinetuneTrainSection(GenerativeTrainSection):
    epochs: float = _help("Passes over the training images (ignored when max_steps > 0).", 10.0, above=0)
    batch_size: int = _help("Images per device per step.", 1, at_least=1)
    lr: float = _help("Peak learning rate (AdamW) after the warm-up, then cosine decay.", 1e-4, above=0)
    warmup_steps: int = _help("Linear learning-rate warm-up steps.", 0, at_least=0)
    max_grad_norm: float = _help("Gradient clipping norm.", 1.0, at_least=0)
    grid_size: int = _help("Images generated from the validation prompt for each grid.", 4, at_least=1)
    sample_steps: int = _help("Inference steps for the grids written during training.", 25, at_least=1)


@dataclass
class DiffusionFinetuneConfig:
    model: str | None = _help("Text-to-image pipeline folder (Stable Diffusion layout: unet, vae, text_encoder, "
                              "tokenizer, scheduler).", None)
    output: str | None = _help("Output folder. None: runs/diffusion-lora-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)
    prompt: str | None = _help("Validation prompt for the sample grids. None: the first training caption.", None)
    data: GenerativeDataSection = field(default_factory=lambda: GenerativeDataSection(image_size=512))
    lora: DiffusionLoraSection = field(default_factory=DiffusionLoraSection)
    train: DiffusionFinetuneTrainSection = field(default_factory=DiffusionFinetuneTrainSection)


@dataclass
class GanSampleConfig:
    model: str = _help("A `llmkit gan train` output folder, or its generator/ folder.", "")
    num_images: int = _help("Images to generate.", 64, at_least=1)
    seed: int = _help("Seed of the latent vectors: the same seed gives the same images.", 0)
    output: str | None = _help("Output folder. None: runs/gan-sample-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)


@dataclass
class DiffusionSampleConfig:
    model: str = _help("A diffusers pipeline folder: unconditional (DDPMPipeline, `llmkit diffusion train`) "
                       "or text-to-image (Stable Diffusion layout).", "")
    prompt: str | None = _help("Text prompt (text-to-image pipelines only).", None)
    negative_prompt: str | None = _help("What the image should not show (text-to-image, with guidance).", None)
    scheduler: str = _help("Sampler: pipeline (as saved), ddpm, ddim, pndm, euler, euler-ancestral, dpm++ "
                           "(DPM-Solver++ multistep), unipc.", "pipeline")
    steps: int = _help("Denoising steps (0: the pipeline's default: 1000 for DDPMPipeline, 50 for Stable "
                       "Diffusion).", 0, at_least=0)
    guidance_scale: float = _help("Classifier-free guidance scale (text-to-image).", 7.5, at_least=0)
    num_images: int = _help("Images to generate.", 16, at_least=1)
    batch_size: int = _help("Images generated at once.", 16, at_least=1)
    height: int = _help("Image height in pixels (0: the pipeline's default).", 0, at_least=0)
    width: int = _help("Image width in pixels (0: the pipeline's default).", 0, at_least=0)
    lora: str | None = _help("LoRA weights from `llmkit diffusion finetune` to apply (text-to-image).", None)
    seed: int = _help("Seed of the starting noise: the same seed gives the same images.", 0)
    output: str | None = _help("Output folder. None: runs/diffusion-sample-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)


JOBS["gan"] = GanConfig
JOBS["gan-sample"] = GanSampleConfig
JOBS["diffusion"] = DiffusionConfig
JOBS["diffusion-sample"] = DiffusionSampleConfig
JOBS["diffusion-lora"] = DiffusionFinetuneConfig


# ----------------------------------------------------------------------------------------------
# Evaluating a model on benchmarks (`llmkit eval`)


@dataclass
class EvalModelSection(ModelSection):
    adapter: str | None = _help("Output of `llmkit finetune` (or a peft adapter) to apply to model.path.", None)


@dataclass
class BenchmarkSection:
    sources: list[str] = _help(
        "What to evaluate on: `sample` (llmkit's sample benchmark), `demo-task` (the built-in task), a path, or "
        "FORMAT=PATH with FORMAT one of llmkit, ceval, cmmlu, mmlu, afqmc, tnews, csl.", ["sample", "demo-task"])
    split: str = _help("Split to score (auto: val for C-Eval, test for CMMLU/MMLU, dev for CLUE).", "auto")
    categories: list[str] = _help("Only these categories (a name, or a prefix such as ceval/). Empty: all.", [])
    types: list[Literal["choice", "open"]] = _help("Only these item types (choice: multiple choice; open: open "
                                                   "answers).", ["choice", "open"])
    limit: int = _help("Score at most N items per category (0: all).", 0, at_least=0)
    demo_task_items: int = _help("Questions taken from the built-in task's held-out split (0: all of them).",
                                 0, at_least=0)


@dataclass
class ChoiceSection:
    methods: list[Literal["loglikelihood", "loglikelihood_option", "generate"]] = _help(
        "How choice items are scored (each recorded per item, each computed only when listed): loglikelihood "
        "compares log P(' A')...; loglikelihood_option the option texts; generate answers and extracts the "
        "letter (SuperCLUE). `--choice-scoring` sets this and primary together.",
        ["loglikelihood", "loglikelihood_option", "generate"])
    primary: Literal["generate", "loglikelihood", "loglikelihood_option"] = _help(
        "Which score counts for the choice track (loglikelihood_option: the option text most likely per "
        "character, lm-eval's acc_norm over the texts).", "generate")
    shots: int = _help("Solved examples before each question, from the format's dev split (0: zero-shot).",
                       0, at_least=0)
    chat_template: bool = _help("Ask choice questions inside the tokenizer's chat template.", False)
    max_new_tokens: int = _help("Tokens generated per choice answer.", 32, at_least=1)
    category_max_new_tokens: list[str] = _help(
        "Token budgets for generated choice answers per category, as CATEGORY=N (a category or a prefix such "
        "as ceval/; the most specific wins); other categories take max_new_tokens.", [])


@dataclass
class EvalGenerationSection:
    batch_size: int = _help("Prompts per forward pass or generate call.", 8, at_least=1)
    max_new_tokens: int = _help("Tokens generated per open answer.", 128, at_least=1)
    category_max_new_tokens: list[str] = _help(
        "Token budgets for open answers per category, as CATEGORY=N (a category or a prefix such as "
        "demo-task/; the most specific wins); other categories take max_new_tokens.", [])
    cache: bool = _help("Reuse cached model outputs ($LLMKIT_CACHE/eval), so a rerun only re-scores.", True)


@dataclass
class JudgeSection:
    kind: Literal["none", "local", "http"] = _help(
        "Judge of open answers: none, a local model, or an OpenAI-compatible HTTP endpoint.", "none")
    model: str | None = _help("local: model folder or Hub id; http: the model name the endpoint serves.", None)
    url: str | None = _help("http: the endpoint's base URL, e.g. http://127.0.0.1:8000/v1.", None)
    api_key_env: str = _help("http: environment variable holding the API key (never written anywhere).",
                             "OPENAI_API_KEY")
    mode: Literal["single", "pairwise"] = _help(
        "single: grade each answer 1-10; pairwise: compare with the baseline's answers in both orders.", "single")
    baseline: str | None = _help("pairwise: an earlier `llmkit eval` run folder whose answers are the baseline, "
                                 "or a model folder that answers the same prompts.", None)
    max_new_tokens: int = _help("Tokens the judge may write per verdict.", 512, at_least=1)


@dataclass
class ReportSection:
    """SuperCLUE-style total: the weighted mean of the tracks a run has (weights of absent tracks drop out)."""

    choice_weight: float = _help("Weight of the choice track (accuracy %).", 1.0, at_least=0)
    reference_weight: float = _help("Weight of the open track scored by reference metrics (%).", 1.0, at_least=0)
    judge_weight: float = _help("Weight of the open track scored by the judge (rating x 10, or win rate %).",
                                1.0, at_least=0)


@dataclass
class EvalConfig:
    output: str | None = _help("Output folder. None: runs/eval-<model>-<time>.", None)
    overwrite: bool = _help("Replace a non-empty output folder.", False)
    model: EvalModelSection = field(default_factory=EvalModelSection)
    benchmark: BenchmarkSection = field(default_factory=BenchmarkSection)
    choice: ChoiceSection = field(default_factory=ChoiceSection)
    generation: EvalGenerationSection = field(default_factory=EvalGenerationSection)
    judge: JudgeSection = field(default_factory=JudgeSection)
    report: ReportSection = field(default_factory=ReportSection)


JOBS["eval"] = EvalConfig
