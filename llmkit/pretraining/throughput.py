"""Tokens/s and model FLOPs utilisation (MFU), with nanoGPT's estimate of the work per token.

Training a transformer costs about 6N FLOPs per token for its N parameters (2N forward, 4N backward;
Kaplan et al. 2020, appendix B) plus attention's 12*L*H*Q*T (L layers, H heads, Q head width,
T tokens of context), as nanoGPT's `estimate_mfu` counts; N leaves out learned position embeddings.
MFU is the achieved FLOP/s over the device's peak dense FLOP/s in the dtype trained in.
"""

from __future__ import annotations

from typing import Any

# Peak dense (no sparsity) TFLOP/s from the vendors' data sheets, by a substring of the device name.
PEAK_TFLOPS_BF16 = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0, "L4": 121.0}
PEAK_TFLOPS_FP32 = {"H200": 67.0, "H100": 67.0, "A100": 19.5, "L40S": 91.6, "A10G": 31.2, "L4": 30.3}


def flops_per_token(n_params: int, layers: int, heads: int, head_dim: int, context: int) -> int:
    """nanoGPT's 6N + 12*L*H*Q*T training FLOPs per token."""
    return 6 * n_params + 12 * layers * heads * head_dim * context


def model_flops_per_token(model: Any, context: int) -> int:
    from llmkit.pretraining.architectures import position_embedding_parameters

    config = model.config
    n_params = sum(p.numel() for p in model.parameters()) - position_embedding_parameters(model)
    return flops_per_token(n_params, config.num_hidden_layers, config.num_attention_heads,
                           config.hidden_size // config.num_attention_heads, context)


def device_peak_tflops(override: float, bf16: bool) -> tuple[float | None, str]:
    """(peak TFLOP/s, where it came from); (None, why) where no peak is known (CPUs, unlisted GPUs)."""
    if override > 0:
        return override, f"{override:g} TFLOP/s (monitor.peak_tflops)"
    import torch

    if not torch.cuda.is_available():
        return None, "no MFU on CPU (set monitor.peak_tflops to measure against a peak)"
    name = torch.cuda.get_device_name()
    table = PEAK_TFLOPS_BF16 if bf16 else PEAK_TFLOPS_FP32
    for key, peak in table.items():
        if key in name:
            return peak, f"{peak:g} TFLOP/s dense {'bf16' if bf16 else 'fp32'} ({name})"
    return None, f"no MFU: {name} is not in llmkit's peak table (set monitor.peak_tflops)"


def mfu(tokens_per_second: float, flops_per_token_: int, peak_tflops: float | None) -> float | None:
    """Achieved over peak FLOP/s, as a fraction; None without a peak."""
    if not peak_tflops:
        return None
    return tokens_per_second * flops_per_token_ / (peak_tflops * 1e12)
