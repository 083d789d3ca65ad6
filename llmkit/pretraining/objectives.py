"""The pretraining losses: next-token cross-entropy (GPT-2, LLaMA) and masked-token cross-entropy (BERT).

Targets arrive already aligned with the positions that predict them (a causal LM's targets are
its inputs shifted left), so the loss is one cross-entropy over every position with no slicing
copy of the logits. Under torch.compile the head, upcast and cross-entropy fuse into a few kernels;
without compile on CUDA, Liger's fused linear cross-entropy computes the loss chunk by chunk from the
hidden states and never materialises the (tokens x vocabulary) logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmkit.data.packing import IGNORE_INDEX

LossFn = Callable[[Any, Any, Any], Any]  # (input_ids, targets, attention_mask or None) -> mean loss


def logits_loss(model: Any) -> LossFn:
    """Mean cross-entropy of `model`'s logits over the positions whose target is not -100."""
    import torch.nn.functional as F

    def loss(input_ids: Any, targets: Any, attention_mask: Any) -> Any:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX)

    return loss


def liger_fused_loss(model: Any) -> LossFn:
    """The same loss through Liger's fused linear cross-entropy (CUDA + Triton; the model must not be DDP-wrapped:
    its backbone and head are called directly)."""
    from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

    fused = LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE_INDEX)
    head = model.get_output_embeddings()
    transform = _masked_lm_transform(model)

    def loss(input_ids: Any, targets: Any, attention_mask: Any) -> Any:
        hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)[0]
        hidden = transform(hidden) if transform is not None else hidden
        # Under autocast the hidden states are bf16 and the weights fp32; Liger's kernels want one dtype, so the
        # head is cast as autocast would cast it for a matmul (the cast's backward returns fp32 gradients).
        bias = head.bias.to(hidden.dtype) if head.bias is not None else None
        return fused(head.weight.to(hidden.dtype), hidden.flatten(0, 1), targets.flatten(), bias)

    return loss


def _masked_lm_transform(model: Any) -> Any:
    # BERT's MLM head is dense + GELU + LayerNorm before the tied decoder; causal LMs go straight to the head.
    cls = getattr(model, "cls", None)
    return cls.predictions.transform if cls is not None else None


def shift_targets(labels: Any) -> Any:
    """A causal LM's targets: position i predicts token i+1; the last position predicts nothing (-100)."""
    import torch.nn.functional as F

    return F.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)
