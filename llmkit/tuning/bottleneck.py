"""Houlsby bottleneck adapters, written by llmkit because peft has none.

Houlsby et al. 2019, "Parameter-Efficient Transfer Learning for NLP" (arXiv:1902.00751); reference code
google-research/adapter-bert (`feedforward_adapter`). Each adapted projection P becomes

    h = P(x);  return h + up(act(down(h)))

where `down` maps the projection's output width d to a bottleneck b << d and `up` maps it back. The
paper puts one adapter after the attention output projection and one after the FFN output projection of
every layer; the base model stays frozen and only the adapters (plus, optionally, a task head) train.

`up` starts at zero, so an adapted model computes exactly what its base computes until the first
optimizer step (the paper's "near-identity initialisation", made exact).

Saved as two files: `bottleneck_adapter.safetensors` (adapter weights and any `train_modules`, nothing
else of the base) and `bottleneck_config.json`. Reload with `load_bottleneck_adapter(fresh_base, dir)`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from llmkit.errors import LlmkitError
from llmkit.tuning.families import CLASSIFIER_HEADS, FAMILIES

WEIGHTS_NAME = "bottleneck_adapter.safetensors"
CONFIG_NAME = "bottleneck_config.json"
ADAPTER_TYPE = "houlsby-bottleneck"

_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


@dataclass
class BottleneckConfig:
    """Settings of a Houlsby bottleneck adapter; defaults follow the paper's reference code."""

    bottleneck_size: int = field(default=64, metadata={"help": (
        "Width b of the bottleneck. 64 is the reference code's default and the middle of the paper's GLUE "
        "sweep {8, 64, 256}; each adapter adds 2*d*b + b + d parameters."
    )})
    non_linearity: str = field(default="gelu", metadata={"help": (
        "'gelu' (the reference code's choice, BERT's own activation) or 'relu'."
    )})
    init_scale: float = field(default=1e-3, metadata={"help": (
        "Std of the truncated normal (cut at 2 std) that initialises `down`, as in the reference code. "
        "`up` is zero, so the model equals its base at step 0 whatever this is."
    )})
    target_modules: list[str] | None = field(default=None, metadata={"help": (
        "Module names to adapt: each a regex matching a dotted suffix of the full module name "
        "('o_proj', r'layer\\.\\d+\\.output\\.dense'). None: the model family's adapter_targets."
    )})
    train_modules: list[str] = field(default_factory=list, metadata={"help": (
        "Modules trained in full and saved with the adapter, like peft's modules_to_save: the new head of a "
        "sequence classifier ('score' for LLaMA/GLM, 'classifier' for BERT). Same matching as targets."
    )})
    model_type: str | None = field(default=None, metadata={"help": "The base's model_type; filled on insert."})
    base_model_name_or_path: str | None = field(default=None, metadata={"help": (
        "Where the base came from (model.config._name_or_path), filled on save when known."
    )})

    def __post_init__(self) -> None:
        if not isinstance(self.bottleneck_size, int) or self.bottleneck_size < 1:
            raise LlmkitError(f"bottleneck_size must be a positive integer, got {self.bottleneck_size!r}")
        if self.non_linearity not in _ACTIVATIONS:
            raise LlmkitError(f"non_linearity must be one of {', '.join(_ACTIVATIONS)}; got {self.non_linearity!r}")
        if not self.init_scale >= 0:
            raise LlmkitError(f"init_scale must be >= 0, got {self.init_scale!r}")
        for name in ("target_modules", "train_modules"):
            value = getattr(self, name)
            if value is None and name == "target_modules":
                continue
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise LlmkitError(f"{name} must be a list of module-name patterns, got {value!r}")
            for pattern in value:
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise LlmkitError(f"{name}: {pattern!r} is not a valid regex ({error})") from None
            setattr(self, name, list(value))

    def to_dict(self) -> dict[str, Any]:
        return {"adapter_type": ADAPTER_TYPE, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BottleneckConfig:
        data = dict(data)
        kind = data.pop("adapter_type", ADAPTER_TYPE)
        if kind != ADAPTER_TYPE:
            raise LlmkitError(f"not a bottleneck adapter config: adapter_type is {kind!r}, expected {ADAPTER_TYPE!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LlmkitError(f"unknown bottleneck config keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BottleneckConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise LlmkitError(f"bottleneck config is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise LlmkitError("bottleneck config must be a JSON object")
        return cls.from_dict(data)


class BottleneckAdapter(nn.Module):
    """`base` followed by a residual bottleneck: h + up(act(down(h))), h = base(x).

    `base` keeps its name as a submodule so its weights stay addressable (`...o_proj.base.weight`) and
    frozen; the wrapper is a plain module in the forward path, so activation checkpointing of the
    enclosing decoder layer recomputes it like anything else.
    """

    def __init__(self, base: nn.Module, bottleneck_size: int, non_linearity: str, init_scale: float) -> None:
        super().__init__()
        width = _output_width(base)
        weight = base.weight
        # Low-precision or quantised bases get fp32 adapters (as peft does for LoRA): tiny adapters
        # updated in bf16 lose most of their small early updates to rounding.
        dtype = weight.dtype if weight.dtype in (torch.float32, torch.float64) else torch.float32
        self.base = base
        self.adapter_down = nn.Linear(width, bottleneck_size, device=weight.device, dtype=dtype)
        self.adapter_act = _ACTIVATIONS[non_linearity]()
        self.adapter_up = nn.Linear(bottleneck_size, width, device=weight.device, dtype=dtype)
        with torch.no_grad():
            nn.init.trunc_normal_(self.adapter_down.weight, std=init_scale, a=-2 * init_scale, b=2 * init_scale)
            nn.init.zeros_(self.adapter_down.bias)
            # Zero `up` makes the adapter output exactly 0 at step 0: the model equals its base.
            nn.init.zeros_(self.adapter_up.weight)
            nn.init.zeros_(self.adapter_up.bias)

    # Code that introspects the projection (dtype checks, GPT-2's _init_weights) still finds its tensors.
    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return getattr(self.base, "bias", None)

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        h = self.base(x, *args, **kwargs)
        z = self.adapter_up(self.adapter_act(self.adapter_down(h.to(self.adapter_down.weight.dtype))))
        return h + z.to(h.dtype)


def _output_width(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return module.out_features
    from transformers.pytorch_utils import Conv1D

    if isinstance(module, Conv1D):
        # GPT-2's Conv1D stores its weight as (in, out), the transpose of nn.Linear's.
        return module.weight.shape[1]
    raise LlmkitError(f"bottleneck adapters wrap nn.Linear or transformers Conv1D outputs, not "
                      f"{type(module).__name__}: pick a projection layer as target")


def _matches(name: str, patterns: list[str]) -> bool:
    """Whether a pattern matches a whole dotted suffix of `name` ('o_proj' hits 'model.layers.0.self_attn.o_proj')."""
    return any(re.fullmatch(rf"(?:.*\.)?(?:{pattern})", name) for pattern in patterns)


def _model_type(model: nn.Module) -> str | None:
    return getattr(getattr(model, "config", None), "model_type", None)


def _resolve(model: nn.Module, config: BottleneckConfig) -> BottleneckConfig:
    """The config with model_type and target_modules filled in for this model."""
    model_type = _model_type(model)
    if config.model_type is not None and model_type is not None and config.model_type != model_type:
        raise LlmkitError(f"this bottleneck adapter was made for model type {config.model_type!r}, "
                          f"but the model is {model_type!r}: load it onto the base it was trained on")
    targets = config.target_modules
    if targets is None:
        if model_type not in FAMILIES:
            raise LlmkitError(f"no default bottleneck adapter targets for model type {model_type!r} (known: "
                              f"{', '.join(sorted(FAMILIES))}); set the targets to the attention "
                              f"and FFN output projections, e.g. --target o_proj,down_proj")
        targets = list(FAMILIES[model_type].adapter_targets)
    return replace(config, target_modules=targets, model_type=config.model_type or model_type)


def _candidates(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Named modules outside any existing adapter (its `base` must never be wrapped again)."""
    inside = {id(m) for a in model.modules() if isinstance(a, BottleneckAdapter) for m in a.modules()}
    return [(n, m) for n, m in model.named_modules() if n and id(m) not in inside]


def leaf_layer_names(model: nn.Module) -> str:
    """A few real leaf names, so an error about a bad target shows what the model calls its layers."""
    leaves = {n.split(".")[-1] for n, m in model.named_modules() if n and not list(m.children())}
    return ", ".join(sorted(leaves)[:20])


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def add_bottleneck_adapters(model: nn.Module, config: BottleneckConfig) -> nn.Module:
    """Freeze every base parameter, wrap each target with a bottleneck adapter, return the same model.

    Parameters of `config.train_modules` are unfrozen and trained in full. The resolved config (targets
    and model_type filled in) is kept as `model.bottleneck_config` for `save_bottleneck_adapter`.
    """
    if any(isinstance(m, BottleneckAdapter) for m in model.modules()):
        raise LlmkitError("this model already has bottleneck adapters; load a fresh base to add new ones")
    resolved = _resolve(model, config)
    model_type = resolved.model_type
    candidates = _candidates(model)
    targets = [(n, m) for n, m in candidates if _matches(n, resolved.target_modules)]
    if not targets:
        raise LlmkitError(f"bottleneck target_modules {resolved.target_modules} match no module of this "
                          f"{model_type!r} model (defaults exist for: {', '.join(sorted(FAMILIES))}); "
                          f"its layer names include: {leaf_layer_names(model)}")
    # A target nested in another target would be wrapped twice (and break the outer wrap's input).
    names = [n for n, _ in targets]
    nested = [n for n in names if any(n.startswith(o + ".") for o in names)]
    if nested:
        raise LlmkitError(f"bottleneck target_modules {resolved.target_modules} match nested modules "
                          f"({nested[0]!r} is inside another target): make the patterns more specific")
    train = [(n, m) for n, m in candidates if _matches(n, resolved.train_modules)]
    missing = [p for p in resolved.train_modules if not any(_matches(n, [p]) for n, _ in candidates)]
    if missing:
        raise LlmkitError(f"train_modules {missing} match no module of this {model_type!r} model; "
                          f"its layer names include: {leaf_layer_names(model)}")
    overlap = sorted({n for n, _ in train} & set(names))
    if overlap:
        raise LlmkitError(f"{overlap[0]!r} is both a bottleneck target and a train module: pick one")

    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for name, module in targets:
        _set_submodule(model, name, BottleneckAdapter(module, resolved.bottleneck_size, resolved.non_linearity,
                                                      resolved.init_scale))
    for _, module in train:
        for parameter in module.parameters():
            parameter.requires_grad_(True)
    model.bottleneck_config = resolved
    return model


def _train_module_names(model: nn.Module, config: BottleneckConfig) -> list[str]:
    return [n for n, _ in _candidates(model) if _matches(n, config.train_modules)]


def bottleneck_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Adapter weights and the full weights of the train modules, by their names in the model; nothing else."""
    config = getattr(model, "bottleneck_config", None)
    if config is None:
        raise LlmkitError("this model has no bottleneck adapters: call add_bottleneck_adapters first")
    state: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, BottleneckAdapter):
            for child in ("adapter_down", "adapter_up"):
                for key, tensor in getattr(module, child).named_parameters():
                    state[f"{name}.{child}.{key}"] = tensor
    for name in _train_module_names(model, config):
        for key, tensor in model.get_submodule(name).state_dict().items():
            state[f"{name}.{key}"] = tensor
    return state


def save_bottleneck_adapter(model: nn.Module, directory: str | os.PathLike[str]) -> Path:
    """Write `bottleneck_adapter.safetensors` (adapters + train modules only) and `bottleneck_config.json`."""
    from safetensors.torch import save_file

    # Clone: safetensors refuses tensors that share storage (a tied head named in train_modules).
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in bottleneck_state_dict(model).items()}
    config = model.bottleneck_config
    if config.base_model_name_or_path is None:
        base_path = getattr(getattr(model, "config", None), "_name_or_path", None) or None
        config = replace(config, base_model_name_or_path=base_path)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # Write to temporary names and rename, so an interrupted save never leaves a half-written adapter.
    weights_tmp, config_tmp = directory / (WEIGHTS_NAME + ".tmp"), directory / (CONFIG_NAME + ".tmp")
    save_file(state, str(weights_tmp), metadata={"format": "pt", "adapter_type": ADAPTER_TYPE})
    config_tmp.write_text(config.to_json(), encoding="utf-8")
    os.replace(weights_tmp, directory / WEIGHTS_NAME)
    os.replace(config_tmp, directory / CONFIG_NAME)
    return directory


def is_bottleneck_adapter_dir(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a directory holding a saved bottleneck adapter (both files)."""
    path = Path(path)
    return (path / WEIGHTS_NAME).is_file() and (path / CONFIG_NAME).is_file()


def load_bottleneck_config(directory: str | os.PathLike[str]) -> BottleneckConfig:
    if not is_bottleneck_adapter_dir(directory):
        raise LlmkitError(f"{directory} is not a bottleneck adapter directory: it needs {WEIGHTS_NAME} "
                          f"and {CONFIG_NAME} (written by save_bottleneck_adapter)")
    return BottleneckConfig.from_json((Path(directory) / CONFIG_NAME).read_text(encoding="utf-8"))


def load_bottleneck_adapter(model: nn.Module, directory: str | os.PathLike[str],
                            is_trainable: bool = False) -> nn.Module:
    """Insert the saved adapters into a fresh base and load their weights (strict); return the same model.

    Every adapter and train-module key must be in the file and nothing else may be, with matching shapes.
    Like peft, the result is frozen for inference unless `is_trainable` (then adapters and train modules
    train again, the base stays frozen).
    """
    from safetensors.torch import load_file

    config = load_bottleneck_config(directory)
    add_bottleneck_adapters(model, config)
    expected = bottleneck_state_dict(model)
    saved = load_file(str(Path(directory) / WEIGHTS_NAME))
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    if missing or unexpected:
        raise LlmkitError(f"bottleneck adapter in {directory} does not fit this model: {len(missing)} missing keys "
                          f"{missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}; load it onto the "
                          f"base it was trained on ({config.base_model_name_or_path or 'unknown'})")
    wrong = [k for k in expected if expected[k].shape != saved[k].shape]
    if wrong:
        raise LlmkitError(f"bottleneck adapter in {directory} has shape {tuple(saved[wrong[0]].shape)} for "
                          f"{wrong[0]!r} but the model needs {tuple(expected[wrong[0]].shape)}: wrong base model?")
    with torch.no_grad():
        for key, tensor in expected.items():
            tensor.copy_(saved[key])
    if not is_trainable:
        for parameter in model.parameters():
            parameter.requires_grad_(False)
    return model


def build_bottleneck(model: nn.Module, section: Any, ctx: Any) -> nn.Module:
    """Adapters from the method's section (bottleneck_size, non_linearity, target, train_norms).

    target [auto] takes the family table's adapter_targets. For task=classify the new head
    (`score` or `classifier`) trains in full and is saved with the adapters, as do the layer norms
    with adapter.train_norms (the paper's setting).
    """
    targets = None if list(section.target) == ["auto"] else list(section.target)
    heads: list[str] = []
    if ctx.task == "classify":
        heads = [h for h in CLASSIFIER_HEADS if isinstance(getattr(model, h, None), nn.Module)]
        if not heads:
            raise LlmkitError(f"{type(model).__name__} has no classification head named "
                              f"{' or '.join(CLASSIFIER_HEADS)}; load it with AutoModelForSequenceClassification")
    if section.train_norms:
        # Houlsby et al. train the layer norms along with the adapters (a few parameters per layer).
        heads += [re.escape(name) for name, module in model.named_modules()
                  if type(module).__name__.endswith("Norm") and any(p.numel() for p in module.parameters())]
    config = BottleneckConfig(bottleneck_size=section.bottleneck_size, non_linearity=section.non_linearity,
                              target_modules=targets, train_modules=heads,
                              base_model_name_or_path=getattr(ctx, "base_path", None) or None)
    return add_bottleneck_adapters(model, config)
