"""Builders for the methods peft implements: LoRA, DoRA, QLoRA, AdaLoRA, prefix, prompt, P-tuning (v1, v2).

Each builder takes the loaded base model, the job config and the build context, and returns the peft
model to train. Hyperparameters come from the method's recipe section (see config.py for the papers'
defaults); target modules from the family table.
"""

from __future__ import annotations

from typing import Any

from llmkit.errors import LlmkitError
from llmkit.tuning.context import BuildContext
from llmkit.tuning.families import resolve_targets


def _task_type(ctx: BuildContext) -> Any:
    from peft import TaskType

    return TaskType.SEQ_CLS if ctx.task == "classify" else TaskType.CAUSAL_LM


def _wrap(model: Any, config: Any) -> Any:
    from peft import get_peft_model
    from peft.utils.error import NoMatchingPeftModuleError

    try:
        return get_peft_model(model, config)
    except NoMatchingPeftModuleError:
        from llmkit.tuning.bottleneck import leaf_layer_names

        targets = sorted(config.target_modules) if isinstance(config.target_modules, set) else config.target_modules
        raise LlmkitError(f"target modules {targets} match no module of this {model.config.model_type!r} model; "
                          f"its layer names include: {leaf_layer_names(model)}") from None


def _lora_config(model: Any, cfg: Any, ctx: BuildContext, *, use_dora: bool = False) -> Any:
    from peft import LoraConfig

    return LoraConfig(task_type=_task_type(ctx), r=cfg.lora.r, lora_alpha=cfg.lora.alpha,
                      lora_dropout=cfg.lora.dropout, target_modules=resolve_targets(cfg.lora.target, model.config),
                      use_dora=use_dora)


def build_lora(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    return _wrap(model, _lora_config(model, cfg, ctx))


def build_dora(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    return _wrap(model, _lora_config(model, cfg, ctx, use_dora=True))


def build_qlora(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    """LoRA on a base that was loaded quantised (see models/quantization.py).

    peft's prepare_model_for_kbit_training is left out on purpose: it casts every non-quantised weight to
    fp32, and on a 7B LLaMA the embeddings and the output head alone then take 1 GiB instead of 0.5, which is
    most of QLoRA's memory beyond the 4-bit weights. What else it does is done already: get_peft_model freezes
    the base, and transformers 5's checkpointing (use_reentrant=False) makes the inputs require grad.
    """
    return _wrap(model, _lora_config(model, cfg, ctx))


def build_adalora(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import AdaLoraConfig

    a = cfg.adalora
    # The real schedule is only known when training starts: AdaLoraScheduleCallback resets total_step,
    # tinit and tfinal from the Trainer's max_steps then. This estimate only has to be valid.
    total = max(ctx.total_steps, 3)
    tinit, tfinal = adalora_phases(a.tinit, a.tfinal, total)
    config = AdaLoraConfig(task_type=_task_type(ctx), init_r=a.init_r, target_r=a.target_r, tinit=tinit,
                           tfinal=tfinal, deltaT=a.delta_t, beta1=a.beta1, beta2=a.beta2,
                           orth_reg_weight=a.orth_reg_weight, total_step=total, lora_alpha=cfg.lora.alpha,
                           lora_dropout=cfg.lora.dropout,
                           target_modules=resolve_targets(cfg.lora.target, model.config))
    return _wrap(model, config)


def adalora_phases(tinit_fraction: float, tfinal_fraction: float, total_steps: int) -> tuple[int, int]:
    """(tinit, tfinal) in steps from the recipe's fractions, leaving at least one budgeting step."""
    tinit = int(tinit_fraction * total_steps)
    tfinal = int(tfinal_fraction * total_steps)
    while tinit >= total_steps - tfinal and (tinit or tfinal):
        tinit, tfinal = max(tinit - 1, 0), max(tfinal - 1, 0)
    return tinit, tfinal


def build_prefix(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import PrefixTuningConfig

    config = PrefixTuningConfig(task_type=_task_type(ctx), num_virtual_tokens=cfg.prefix.num_virtual_tokens,
                                prefix_projection=True, encoder_hidden_size=cfg.prefix.encoder_hidden_size)
    _turn_off_dropout(model)
    return _wrap_prefix(model, config, ctx)


def _turn_off_dropout(model: Any) -> None:
    """Virtual-token methods train a few inputs to a frozen model, whose dropout then regularises nothing and
    only adds noise to a small signal. On all-MiniLM-L6-v2 (bench/methods.py, BERT part) the gradient w.r.t. a
    prefix's keys/values under dropout is 2.5 times the dropout-free one, at cosine 0.29 to it; with dropout,
    prefix tuning stayed at chance (loss ln 2) in four of five data orders and prompt tuning reached 54%, without
    it 96% both. Call before peft wraps the model, so that peft's own prompt-encoder modules keep their settings."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def build_ptuning_v2(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import PrefixTuningConfig

    _turn_off_dropout(model)
    if ctx.family is not None and ctx.family.native_ptuning_v2:
        return _native_ptuning_v2(model)

    # P-tuning v2 is prefix tuning without the MLP: the per-layer prompts are trained directly.
    config = PrefixTuningConfig(task_type=_task_type(ctx), num_virtual_tokens=cfg.ptuning_v2.num_virtual_tokens,
                                prefix_projection=False)
    return _wrap_prefix(model, config, ctx)


def ptuning_v2_load_kwargs(cfg: Any, family: Any) -> dict[str, Any]:
    """ChatGLM2/3 build their own P-tuning v2 prefix encoder when the config has pre_seq_len (their
    ptuning/main.py sets it the same way); other families get peft's and load unchanged."""
    if family is not None and family.native_ptuning_v2:
        return {"pre_seq_len": cfg.ptuning_v2.num_virtual_tokens, "prefix_projection": False}
    return {}


def _native_ptuning_v2(model: Any) -> Any:
    from llmkit.errors import LlmkitError

    if getattr(model.config, "pre_seq_len", None) is None:
        raise LlmkitError(f"{type(model).__name__} was loaded without pre_seq_len, so it has no prefix encoder")
    trained = 0
    for name, param in model.named_parameters():
        param.requires_grad = "prefix_encoder" in name
        trained += param.requires_grad
    if not trained:
        raise LlmkitError(f"{type(model).__name__} has pre_seq_len but no prefix_encoder parameters; "
                          f"is this a ChatGLM2/3 checkpoint's own modeling code?")
    return model


def _wrap_prefix(model: Any, config: Any, ctx: BuildContext) -> Any:
    if ctx.task == "classify":
        # peft's own sequence-classification wrapper refuses prefixes on transformers 5.
        from llmkit.tuning.prefix_classification import PrefixSequenceClassifier

        return PrefixSequenceClassifier(model, config)
    return _wrap(model, config)


def build_prompt(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import PromptTuningConfig, PromptTuningInit

    p = cfg.prompt
    text_init = {"prompt_tuning_init": PromptTuningInit.TEXT, "prompt_tuning_init_text": p.init_text,
                 "tokenizer_name_or_path": ctx.base_path} if p.init_text else {}
    config = PromptTuningConfig(task_type=_task_type(ctx), num_virtual_tokens=p.num_virtual_tokens, **text_init)
    _turn_off_dropout(model)
    return _wrap(model, config)


def build_ptuning(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import PromptEncoderConfig

    p = cfg.ptuning
    config = PromptEncoderConfig(task_type=_task_type(ctx), num_virtual_tokens=p.num_virtual_tokens,
                                 encoder_reparameterization_type=p.encoder.upper(),
                                 encoder_hidden_size=p.encoder_hidden_size)
    _turn_off_dropout(model)
    return _wrap(model, config)
