"""AdaLoRA (Zhang et al. 2023): SVD-shaped LoRA whose rank budget moves to the modules that matter.

peft re-allocates the budget in `update_and_allocate`, which Trainer never calls: the method's callback
(llmkit/tuning/adalora_callback.py) does, after each optimizer step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.config import option
from llmkit.tuning.context import BuildContext
from llmkit.tuning.families import resolve_targets
from llmkit.tuning.method import Method
from llmkit.tuning.peft_wrap import task_type, wrap


@dataclass
class AdaLoraSection:
    """AdaLoRA (Zhang et al. 2023): SVD-shaped LoRA whose rank budget moves to the modules that matter."""

    init_r: int = option("Starting rank of every module (the paper starts at 1.5x the target budget).", 12, at_least=1)
    target_r: int = option("Average rank per module once the budget is allocated.", 8, at_least=1)
    tinit: float = option("Warm-up before pruning ranks, as a fraction of the training steps.", 0.1,
                          at_least=0, below=1)
    tfinal: float = option("Final fine-tuning with frozen ranks, as a fraction of the training steps.",
                          0.2, at_least=0, below=1)
    delta_t: int = option("Steps between two budget re-allocations (the paper's Delta T).", 10, at_least=1)
    beta1: float = option("EMA factor of the importance sensitivity.", 0.85, above=0, below=1)
    beta2: float = option("EMA factor of the importance uncertainty.", 0.85, above=0, below=1)
    orth_reg_weight: float = option("Weight of the orthogonality regulariser on P and Q.", 0.5, at_least=0)


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    from peft import AdaLoraConfig

    a = cfg.adalora
    # The real schedule is only known when training starts: AdaLoraScheduleCallback resets total_step,
    # tinit and tfinal from the Trainer's max_steps then. This estimate only has to be valid.
    total = max(ctx.total_steps, 3)
    tinit, tfinal = adalora_phases(a.tinit, a.tfinal, total)
    config = AdaLoraConfig(task_type=task_type(ctx), init_r=a.init_r, target_r=a.target_r, tinit=tinit,
                           tfinal=tfinal, deltaT=a.delta_t, beta1=a.beta1, beta2=a.beta2,
                           orth_reg_weight=a.orth_reg_weight, total_step=total, lora_alpha=cfg.lora.alpha,
                           lora_dropout=cfg.lora.dropout,
                           target_modules=resolve_targets(cfg.lora.target, model.config))
    return wrap(model, config)


def adalora_phases(tinit_fraction: float, tfinal_fraction: float, total_steps: int) -> tuple[int, int]:
    """(tinit, tfinal) in steps from the recipe's fractions, leaving at least one budgeting step."""
    tinit = int(tinit_fraction * total_steps)
    tfinal = int(tfinal_fraction * total_steps)
    while tinit >= total_steps - tfinal and (tinit or tfinal):
        tinit, tfinal = max(tinit - 1, 0), max(tfinal - 1, 0)
    return tinit, tfinal


def callbacks(model: Any, cfg: Any) -> list[Any]:
    from llmkit.tuning.adalora_callback import AdaLoraCallback

    a = cfg.adalora
    return [AdaLoraCallback(model, lambda total: adalora_phases(a.tinit, a.tfinal, total))]


def final_ranks(peft_model: Any) -> dict[str, Any]:
    """Rank of every AdaLoRA module after training: the number of singular values its mask keeps."""
    ranks = {}
    for name, module in peft_model.named_modules():
        if hasattr(module, "ranknum") and "default" in getattr(module, "lora_E", {}):
            ranks[name.removeprefix("base_model.model.")] = int((module.lora_E["default"] != 0).sum())
    return {"adalora_final_ranks": ranks}


METHOD = Method("adalora", "SVD-shaped LoRA whose rank budget moves to the most important modules.",
                "Zhang et al. 2023, AdaLoRA: Adaptive Budget Allocation for Parameter-Efficient Fine-Tuning", build,
                "adapter", lr=1e-2, section="adalora", section_class=AdaLoraSection, target_key="lora.target",
                callbacks=callbacks, report=final_ranks)
