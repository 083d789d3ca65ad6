"""QLoRA (Dettmers et al. 2023): LoRA on a 4-bit NF4 (or 8-bit) quantised, frozen base."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from llmkit.config import option
from llmkit.config.sections import Dtype
from llmkit.tuning.context import BuildContext
from llmkit.tuning.method import Method
from llmkit.tuning.methods.lora import lora_config
from llmkit.tuning.peft_wrap import wrap


@dataclass
class QloraSection:
    """The quantised base of QLoRA (Dettmers et al. 2023): 4-bit NormalFloat with double quantisation."""

    bits: Literal[4, 8] = option("Base weights in 4-bit (NF4/FP4) or 8-bit (LLM.int8) through bitsandbytes.", 4)
    quant_type: Literal["nf4", "fp4"] = option("4-bit data type; NF4 is the paper's.", "nf4")
    double_quant: bool = option("Quantise the quantisation constants too (the paper's double quantisation).", True)
    compute_dtype: Dtype = option(
        "Dtype of the de-quantised matmuls. auto: bfloat16 on a GPU that has it, float32 otherwise.", "auto")


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    """LoRA on a base that was loaded quantised (see models/quantization.py).

    peft's prepare_model_for_kbit_training is left out on purpose: it casts every non-quantised weight to
    fp32, and on a 7B LLaMA the embeddings and the output head alone then take 1 GiB instead of 0.5, which is
    most of QLoRA's memory beyond the 4-bit weights. What else it does is done already: get_peft_model freezes
    the base, and transformers 5's checkpointing (use_reentrant=False) makes the inputs require grad.
    """
    return wrap(model, lora_config(model, cfg, ctx))


def _check_bitsandbytes() -> None:
    from llmkit.models.quantization import check_bitsandbytes

    check_bitsandbytes()


METHOD = Method("qlora", "LoRA on a 4-bit NF4 (or 8-bit) quantised, frozen base (bitsandbytes).",
                "Dettmers et al. 2023, QLoRA: Efficient Finetuning of Quantized LLMs", build, "adapter", lr=1e-3,
                section="qlora", section_class=QloraSection, target_key="lora.target", quantization_section="qlora",
                check=_check_bitsandbytes)
