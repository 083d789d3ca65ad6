"""LoRA speed and QLoRA memory on one CUDA GPU: `llmkit finetune` against plain peft + Trainer, one run.

(a) LoRA tokens/s: a TinyLlama-1.1B-shaped Llama (random weights), LoRA r=16 on every linear layer,
    sequences of 1024 tokens, batch 8, bf16, gradient checkpointing: plain peft + Trainer, plain with
    `use_liger_kernel=True`, and llmkit's finetune workflow (its defaults: Liger kernels, fused AdamW,
    padding-free packing) with checkpointing on, and off as its recipe default has it. Tokens/s is steady
    state: the tokens of the steps after the warm-up steps, over their wall time.
(b) QLoRA peak memory: a Llama-2-7B-shaped model (random weights made on the device and saved, so both
    sides load it through bitsandbytes the usual way), NF4 with double quantisation, bf16 compute, LoRA
    r=16 on every linear layer, sequence 1024, batch 1, gradient checkpointing; plain is
    prepare_model_for_kbit_training + peft + Trainer as peft's docs show it. Peak is
    torch.cuda.max_memory_allocated over training.

Both sides train on the same number of 1024-token rows; llmkit reads them as chat examples truncated
to data.max_length, plain as token ids. `--smoke` runs the same code on CPU with tiny shapes (it checks
the script; its numbers mean nothing).

(c) Every method trains 4 steps through llmkit on the GPU (Liger, bf16 and fused AdamW on): a check that
    the fast path breaks none of them.

    python bench/finetune_gpu.py [--part lora|qlora|methods|all] [--smoke]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

TINYLLAMA = {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
             "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 2048}
LLAMA_7B = {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 32, "vocab_size": 32000, "max_position_embeddings": 4096}
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 2, "vocab_size": 1000, "max_position_embeddings": 256}
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class StepTimer(TrainerCallback):
    """Wall time and tokens of the steps after `warmup` (the steady state)."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.tokens0, self.seconds, self.tokens = warmup, 0.0, 0, 0.0, 0

    def _sync(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.warmup:
            self._sync()
            self.start, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == state.max_steps:
            self._sync()
            self.seconds = time.perf_counter() - self.start
            self.tokens = state.num_input_tokens_seen - self.tokens0


def timed(warmup: int) -> StepTimer:
    """A fresh StepTimer that every Trainer built from now on gets, llmkit's included (it builds its own)."""
    import transformers.trainer

    timer = StepTimer(warmup)
    transformers.trainer.DEFAULT_CALLBACKS[:] = [transformers.trainer.DefaultFlowCallback, timer]
    return timer


def fresh_gpu() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")


def make_base(shape: dict[str, int], folder: Path) -> Path:
    """A randomly initialised Llama of `shape` saved with an llmkit BPE tokenizer (for the chat template)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from llmkit.data.demo_corpus import demo_documents
    from llmkit.data.tokenizer import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(demo_documents(2000, seed=0), vocab_size=min(4096, shape["vocab_size"]))
    config = LlamaConfig(**shape, tie_word_embeddings=False, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    torch.manual_seed(0)
    with torch.device(device):  # initialised where it will train, straight in its dtype: 7B never sits in fp32
        model = LlamaForCausalLM._from_config(config, dtype=dtype)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    fresh_gpu()
    return folder


def chat_file(path: Path, rows: int, seq: int, seed: int = 0) -> Path:
    """Chat examples long enough that data.max_length=seq truncates each to exactly one full row."""
    rng = random.Random(seed)
    words = "the model learns from long answers that fill every row of the batch with real tokens".split()
    with path.open("w", encoding="utf-8") as f:
        for _ in range(rows):
            answer = " ".join(rng.choice(words) for _ in range(2 * seq))
            f.write(json.dumps({"messages": [{"role": "user", "content": "Write a long text."},
                                             {"role": "assistant", "content": answer}]}) + "\n")
    return path


def plain_run(base: Path, *, rows: int, seq: int, batch: int, steps: int, warmup: int, qlora: bool,
              liger: bool = False, checkpointing: bool = True) -> dict[str, float]:
    """peft + Trainer the way their documentation shows it."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, Trainer, TrainingArguments

    fresh_gpu()
    cuda = torch.cuda.is_available()
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if cuda else torch.float32}
    if qlora:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=kwargs["dtype"])
        kwargs["device_map"] = {"": 0 if cuda else "cpu"}
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    if qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
    elif cuda:
        model = model.cuda()
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.05,
                                             target_modules=ALL_LINEAR))
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    data = [{"input_ids": ids, "labels": ids} for ids in torch.randint(0, vocab, (rows, seq), generator=g)]
    args = TrainingArguments(output_dir=tempfile.mkdtemp(), max_steps=steps, per_device_train_batch_size=batch,
                             learning_rate=2e-4, bf16=cuda, gradient_checkpointing=checkpointing, logging_steps=10,
                             save_strategy="no", report_to="none", use_liger_kernel=liger, use_cpu=not cuda,
                             include_num_input_tokens_seen="all", disable_tqdm=True)
    timer = timed(warmup)
    Trainer(model=model, args=args, train_dataset=data).train()
    result = {"tokens_per_s": timer.tokens / timer.seconds, "peak_gib": peak_gib(),
              "tokens_per_step": timer.tokens / (steps - warmup)}
    del model
    fresh_gpu()
    return result


def llmkit_run(base: Path, data: Path, *, seq: int, batch: int, steps: int, warmup: int, method: str,
               checkpointing: bool, lr: float = 2e-4, overrides: tuple[str, ...] = ()) -> dict[str, float]:
    """llmkit's finetune workflow, as `llmkit finetune --method M --model BASE --data DATA` runs it."""
    from llmkit.config import build_config, parse_set_overrides
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.workflows import finetune

    fresh_gpu()
    cfg = build_config(FinetuneConfig, {
        "method": method, "output": tempfile.mkdtemp(), "overwrite": True, "model": {"path": str(base)},
        "data": {"path": str(data), "max_length": seq}, "lora": {"target": ALL_LINEAR},
        "train": {"max_steps": steps, "batch_size": batch, "lr": lr, "gradient_checkpointing": checkpointing},
        "eval": {"limit": 0, "before": False}}, parse_set_overrides(list(overrides)))
    timer = timed(warmup)
    result = finetune.run(cfg)
    out = {"tokens_per_s": timer.tokens / timer.seconds, "peak_gib": peak_gib(),
           "tokens_per_step": timer.tokens / (steps - warmup)}
    del result
    fresh_gpu()
    return out


def row(name: str, r: dict[str, float], baseline: dict[str, float] | None) -> str:
    ratio = f"{r['tokens_per_s'] / baseline['tokens_per_s']:.2f}x" if baseline else "1.00x"
    return (f"| {name} | {r['tokens_per_s']:,.0f} | {ratio} | {r['peak_gib']:.2f} | "
            f"{r['tokens_per_step']:,.0f} |")


def lora_part(root: Path, smoke: bool, variants: list[str], liger_row: bool) -> None:
    shape, seq, batch, steps, warmup = (TINY, 64, 2, 6, 2) if smoke else (TINYLLAMA, 1024, 8, 40, 10)
    base = make_base(shape, root / "tinyllama")
    data = chat_file(root / "lora.jsonl", batch * steps, seq)
    plain = plain_run(base, rows=batch * steps, seq=seq, batch=batch, steps=steps, warmup=warmup, qlora=False)
    results = [("plain peft + Trainer, checkpointing", plain),
               ("plain peft + Trainer, no checkpointing",
                plain_run(base, rows=batch * steps, seq=seq, batch=batch, steps=steps, warmup=warmup, qlora=False,
                          checkpointing=False))]
    if liger_row:
        results.append(("plain + use_liger_kernel, checkpointing",
                        plain_run(base, rows=batch * steps, seq=seq, batch=batch, steps=steps, warmup=warmup,
                                  qlora=False, liger=True)))
    for checkpointing in (True, False):
        results.append((f"llmkit finetune --method lora, checkpointing {'on' if checkpointing else 'off'}",
                        llmkit_run(base, data, seq=seq, batch=batch, steps=steps, warmup=warmup, method="lora",
                                   checkpointing=checkpointing)))
    for variant in variants:  # e.g. "train.gradient_checkpointing=false,train.torch_compile=true"
        results.append((f"llmkit, checkpointing on, --set {variant}",
                        llmkit_run(base, data, seq=seq, batch=batch, steps=steps, warmup=warmup, method="lora",
                                   checkpointing=True, overrides=tuple(variant.split(",")))))
    print(f"\n(a) LoRA r=16 all-linear, {shape['num_hidden_layers']} layers x {shape['hidden_size']}, seq {seq}, "
          f"batch {batch}, {steps} steps ({warmup} warm-up)\n")
    print("| run | tokens/s (steady) | vs plain | peak GiB | tokens/step |\n|---|---|---|---|---|")
    for name, r in results:
        print(row(name, r, plain))


def qlora_part(root: Path, smoke: bool) -> None:
    shape, seq, steps, warmup = (TINY, 64, 4, 1) if smoke else (LLAMA_7B, 1024, 8, 3)
    base = make_base(shape, root / "llama7b")
    data = chat_file(root / "qlora.jsonl", steps, seq)
    results = [("plain: prepare_model_for_kbit_training + peft + Trainer",
                plain_run(base, rows=steps, seq=seq, batch=1, steps=steps, warmup=warmup, qlora=True))]
    results.append(("llmkit finetune --method qlora --set train.gradient_checkpointing=true",
                    llmkit_run(base, data, seq=seq, batch=1, steps=steps, warmup=warmup, method="qlora",
                               checkpointing=True)))
    print(f"\n(b) QLoRA NF4 + LoRA r=16 all-linear, {shape['num_hidden_layers']} layers x {shape['hidden_size']}, "
          f"seq {seq}, batch 1, checkpointing, {steps} steps\n")
    print("| run | tokens/s (steady) | vs plain | peak GiB | tokens/step |\n|---|---|---|---|---|")
    for name, r in results:
        print(row(name, r, results[0][1]))


def methods_part(root: Path, smoke: bool) -> None:
    """Every method trains a few steps through llmkit on this device (Liger, bf16, fused AdamW all on)."""
    from llmkit.tuning.methods import METHODS

    shape = TINY if smoke else {**TINY, "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
                                "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 4096}
    base = make_base(shape, root / "small")
    data = chat_file(root / "methods.jsonl", 16, 128)
    print("\n(c) every method, 4 steps on a 4-layer Llama through llmkit finetune\n")
    print("| method | result |\n|---|---|")
    for name in METHODS:
        try:
            r = llmkit_run(base, data, seq=128, batch=4, steps=4, warmup=1, method=name, checkpointing=False,
                           lr=1e-3)
            print(f"| {name} | ok, {r['tokens_per_s']:,.0f} tokens/s |", flush=True)
        except Exception as e:  # report every method, whichever fails
            print(f"| {name} | FAILED: {type(e).__name__}: {str(e).splitlines()[0][:200]} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["lora", "qlora", "methods", "all"], default="all")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on CPU: checks the script only")
    parser.add_argument("--root", help="scratch folder for the random models (default: a temp dir)")
    parser.add_argument("--llmkit-set", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                        help="part lora: one more llmkit row with these recipe overrides (repeatable)")
    parser.add_argument("--no-liger", action="store_true", help="part lora: skip the plain + Liger row")
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("this bench needs a CUDA GPU (or --smoke)")
    import transformers

    print(f"device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}; torch {torch.__version__}, "
          f"transformers {transformers.__version__}")
    root = Path(args.root or tempfile.mkdtemp())
    if args.part in ("lora", "all"):
        # Liger's kernels are Triton: CUDA only.
        lora_part(root, args.smoke, args.llmkit_set, liger_row=not (args.smoke or args.no_liger))
    if args.part in ("qlora", "all"):
        qlora_part(root, args.smoke)
    if args.part in ("methods", "all"):
        methods_part(root, args.smoke)


if __name__ == "__main__":
    main()
