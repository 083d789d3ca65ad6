"""The pretraining loop: a lean loop on `accelerate.Accelerator`, not `transformers.Trainer`.

Why not Trainer (which fine-tuning uses): pretraining is one long run of identical full blocks, and
on a GPU the per-step work of a small model is a few tens of milliseconds, so what the Trainer adds
per step shows up in MFU: a host sync each step to count tokens, its loss outside the compiled
graph with the logits upcast to fp32 over the whole vocabulary, DataLoader and callback machinery.
Here the data is a tensor of packed blocks (moved to the GPU once), every batch is full (the order runs
on across epochs instead of dropping or padding a last batch, so compiled shapes never change), the
loss is compiled with the model, and the host waits for the GPU only when it logs.
Accelerate still does device placement, mixed precision, DDP across processes, gradient clipping and
checkpoints (`accelerator.save_state`: weights, optimizer, scheduler, every process's RNG states), beside
the loop's step, log and open log window; the data order (llmkit.training.batches) and BERT's masks are
functions of (seed, step), so `--resume` continues exactly where an uninterrupted run would be (tested
with a process killed mid-run).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llmkit.config.sections import TrainSection
from llmkit.data.packing import IGNORE_INDEX
from llmkit.pretraining.objectives import LossFn, liger_fused_loss, logits_loss, shift_targets
from llmkit.pretraining.throughput import mfu
from llmkit.training.checkpoints import LoopCheckpoints


@dataclass
class Blocks:
    """Packed blocks: input_ids [n, T]; labels [n, T] equal to input_ids with -100 on padding."""

    input_ids: Any
    labels: Any

    def __len__(self) -> int:
        return self.input_ids.shape[0]


@dataclass
class Masking:
    """What BERT's dynamic masking needs (None for causal LMs)."""

    mask_id: int
    vocab_size: int  # the tokenizer's: random replacements never use padded embedding rows
    special_ids: Any  # list of ids; the loop keeps them as a tensor on its device (no copy per step)


@dataclass
class LogHooks:
    """What the loop calls besides training: validation (returns metrics) and samples, each given the step."""

    evaluate: Callable[[int], dict[str, float]] | None = None
    sample: Callable[[int], None] | None = None


class LogWindow:
    """The steps since the last logged loss: their summed loss (a device tensor, so adding to it never waits for
    the GPU), tokens and training seconds. A checkpoint saves it, so a run resumed between two logging steps
    logs the same mean loss as the uninterrupted run."""

    def __init__(self, loss: Any = None, steps: int = 0, tokens: int = 0, seconds: float = 0.0):
        self.loss, self.steps, self.tokens, self.seconds = loss, steps, tokens, seconds
        self._since: float | None = None

    def start(self) -> None:
        self._since = time.perf_counter()

    def pause(self) -> None:
        if self._since is not None:
            self.seconds += time.perf_counter() - self._since
            self._since = None

    def elapsed(self) -> float:
        self.pause()
        return self.seconds

    def add(self, loss: Any, tokens: int) -> None:
        self.loss = loss if self.loss is None else self.loss + loss
        self.steps, self.tokens = self.steps + 1, self.tokens + tokens

    def reset(self) -> None:
        self.loss, self.steps, self.tokens, self.seconds = None, 0, 0, 0.0

    def state(self, accelerator: Any) -> dict[str, Any]:
        """What a checkpoint keeps. With several processes the loss kept is the ranks' mean, which each rank
        restores: the logged mean then equals the uninterrupted run's up to float rounding."""
        loss = None if self.loss is None else accelerator.reduce(self.loss, "mean").item()
        return {"loss": loss, "steps": self.steps, "tokens": self.tokens, "seconds": self.seconds}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: Any) -> LogWindow:
        if state["loss"] is None:  # saved on a logging step
            return cls()
        import torch

        # The loss was a float32 tensor: float32 -> Python float -> float32 is exact, so the sums go on bit for bit.
        loss = torch.tensor(state["loss"], dtype=torch.float32, device=device)
        return cls(loss, state["steps"], state["tokens"], state["seconds"])


class Pretrainer:
    """Trains `model` on `train` blocks. `llmkit pretrain` runs `fit`; the speed benches drive this same object."""

    def __init__(self, model: Any, train: Blocks, cfg: TrainSection, total_steps: int, *,
                 masking: Masking | None = None, flops_per_token: int = 0, peak_tflops: float | None = None):
        import torch
        from transformers import get_scheduler

        from llmkit.training.accelerator import bf16_enabled, build_accelerator
        from llmkit.training.batches import SeededBatches
        from llmkit.training.schedule import warmup_steps

        self.cfg = cfg
        self.masking = masking
        self.total_steps = total_steps
        self.flops_per_token = flops_per_token
        self.peak_tflops = peak_tflops
        cuda = torch.cuda.is_available()
        self.accelerator = build_accelerator(bf16=bf16_enabled(cfg.bf16))
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = True  # what stays in fp32 (the loss's upcast) uses tensor cores
            torch.backends.cudnn.allow_tf32 = True
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        self.unwrapped = model.to(self.accelerator.device)  # before the optimizer: fused AdamW wants its device
        optimizer = _adamw(model, cfg, fused=cuda and cfg.fused_optimizer)
        scheduler = get_scheduler(cfg.scheduler, optimizer, num_training_steps=total_steps,
                                  num_warmup_steps=warmup_steps(cfg.warmup_steps, total_steps))
        # Prepared, the three are what `accelerator.save_state` checkpoints.
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, optimizer, scheduler)
        self.device = self.accelerator.device
        self.loss_fn, self.loss_kind = self._loss_fn(cuda)
        self.data = _to_device_if_small(train, self.device)
        if masking is not None:
            self.masking = replace(masking, special_ids=torch.as_tensor(masking.special_ids, device=self.device))
        self.real_tokens = (train.labels != IGNORE_INDEX).sum(dim=1)  # per block, on the CPU: no sync to count
        self.batches = SeededBatches(len(train), cfg.batch_size, cfg.seed, grad_accum=cfg.grad_accum,
                                     world_size=self.accelerator.num_processes, rank=self.accelerator.process_index,
                                     device=self.data.input_ids.device)
        self.rows_per_step = self.batches.rows_per_step
        self.step = 0
        self.log_history: list[dict[str, Any]] = []
        self.window = LogWindow()

    # ------------------------------------------------------------------------------------------
    # One optimizer step

    def _loss_fn(self, cuda: bool) -> tuple[LossFn, str]:
        import torch

        from llmkit.training.trainer import liger_enabled

        single = self.accelerator.num_processes == 1
        if cuda and self.cfg.torch_compile:
            # One shape per run (every batch is full), so no dynamic-shape graphs.
            compiled = torch.compile(logits_loss(self.model), dynamic=False)
            return compiled, "cross-entropy compiled with the model (torch.compile)"
        if cuda and single and liger_enabled(self.cfg):
            return liger_fused_loss(self.model), "Liger fused linear cross-entropy"
        return logits_loss(self.model), "cross-entropy (eager)"

    def micro_batch(self, rows: Any, step: int, micro: int) -> tuple[Any, Any, Any]:
        """(input_ids, targets, attention_mask) on the device for the blocks `rows`."""

        input_ids, labels = self.data.input_ids[rows], self.data.labels[rows]
        input_ids, labels = input_ids.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
        return model_inputs(input_ids, labels, self.masking, self.cfg.seed, step * self.cfg.grad_accum + micro)

    def train_step(self) -> Any:
        """One optimizer step over grad_accum micro-batches; returns the mean loss as a device tensor (no sync)."""
        self.model.train()
        total = None
        for micro in range(self.cfg.grad_accum):
            rows = self.batches.rows(self.step, micro)
            input_ids, targets, attention_mask = self.micro_batch(rows, self.step, micro)
            last = micro == self.cfg.grad_accum - 1
            with nullcontext() if last else self.accelerator.no_sync(self.model):
                with self.accelerator.autocast():  # also covers Liger's path, which calls the backbone directly
                    loss = self.loss_fn(input_ids, targets, attention_mask) / self.cfg.grad_accum
                self.accelerator.backward(loss)
            total = loss.detach() if total is None else total + loss.detach()
        if self.cfg.max_grad_norm > 0:
            self.accelerator.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return total

    def step_tokens(self, step: int) -> int:
        """Non-padding tokens that `step` trains on, over all processes (counted on the CPU, no GPU sync)."""
        return sum(int(self.real_tokens[self.batches.rows(step, micro, rank, on_device=False)].sum())
                   for micro in range(self.cfg.grad_accum) for rank in range(self.accelerator.num_processes))

    # ------------------------------------------------------------------------------------------
    # The run: steps, logs, validation, samples, checkpoints

    def fit(self, hooks: LogHooks, *, logging_steps: int, eval_steps: int, sample_steps: int, save_steps: int,
            checkpoint_dir: Path | None, keep_checkpoints: int) -> dict[str, Any]:
        """Train to `total_steps` (from `self.step`, which a resumed run sets); returns the throughput summary."""
        from tqdm.auto import tqdm

        # Only the main process draws a bar; elsewhere tqdm's own defaults apply (TQDM_DISABLE=1 turns it off).
        quiet = {} if self.accelerator.is_main_process else {"disable": True}
        bar = tqdm(total=self.total_steps, initial=self.step, desc="pretrain", unit="step", **quiet)
        window = self.window
        window.start()
        while self.step < self.total_steps:
            tokens = self.step_tokens(self.step)
            window.add(self.train_step(), tokens)
            step, last = self.step, self.step == self.total_steps
            bar.update(1)
            if step % logging_steps == 0 or last:
                # The one place the host waits for the GPU.
                mean_loss = self.accelerator.reduce(window.loss, "mean").item() / window.steps
                entry = self._log_entry(step, mean_loss, window.tokens, window.elapsed(), window.steps)
                bar.set_postfix(loss=f"{mean_loss:.3f}", tok_s=f"{entry['tokens_per_second']:.0f}")
                window.reset()
            window.pause()  # validation, samples and checkpoints are not training time
            if hooks.evaluate and (last or (eval_steps and step % eval_steps == 0)):
                self.log_history.append({"step": step, **hooks.evaluate(step)})
            if hooks.sample and (last or (sample_steps and step % sample_steps == 0)):
                hooks.sample(step)
            if checkpoint_dir is not None and save_steps and step % save_steps == 0 and not last:
                self.save_checkpoint(checkpoint_dir, keep_checkpoints)
            window.start()
        bar.close()
        return self.throughput()

    def _log_entry(self, step: int, loss: float, tokens: int, seconds: float, steps: int) -> dict[str, Any]:
        tokens_per_second = tokens / seconds
        entry = {"step": step, "loss": round(loss, 4), "lr": self.scheduler.get_last_lr()[0],
                 "tokens": tokens, "seconds": round(seconds, 4), "steps_in_window": steps,
                 "tokens_per_second": round(tokens_per_second, 1)}
        achieved = mfu(tokens_per_second / self.accelerator.num_processes, self.flops_per_token, self.peak_tflops)
        if achieved is not None:
            entry["mfu"] = round(achieved, 4)
        self.log_history.append(entry)
        return entry

    def throughput(self) -> dict[str, Any]:
        """Training tokens/s and MFU over all logged windows, and over all but the first (compilation, warm-up)."""
        windows = [e for e in self.log_history if "tokens_per_second" in e]
        summary: dict[str, Any] = {}
        for name, chosen in (("", windows), ("steady_", windows[1:])):
            seconds = sum(e["seconds"] for e in chosen)
            if not seconds:
                continue
            tokens_per_second = sum(e["tokens"] for e in chosen) / seconds
            summary[f"{name}tokens_per_second"] = round(tokens_per_second, 1)
            achieved = mfu(tokens_per_second / self.accelerator.num_processes, self.flops_per_token,
                           self.peak_tflops)
            if achieved is not None:
                summary[f"{name}mfu"] = round(achieved, 4)
        summary["train_tokens"] = sum(e["tokens"] for e in windows)
        summary["train_seconds"] = round(sum(e["seconds"] for e in windows), 2)
        return summary

    def replicas(self) -> dict[str, Any]:
        """The run record's `distributed` section, as for Trainer runs: the batch layout, the rows each rank
        trained on and whether every rank ends with the same weights. Every rank must call this."""
        from llmkit.training.replicas import audit_replicas, batch_layout

        cfg = self.cfg
        return {**batch_layout(self.accelerator.num_processes, cfg.batch_size, cfg.grad_accum),
                **audit_replicas(self.step * cfg.batch_size * cfg.grad_accum, self.unwrapped)}

    # ------------------------------------------------------------------------------------------
    # Validation

    def validate(self, blocks: Blocks, max_batches: int = 0) -> dict[str, float]:
        """Token-weighted validation loss (and perplexity, or BERT's masked-token accuracy) in eval mode."""
        import torch
        import torch.nn.functional as F

        model = self.unwrapped
        model.eval()
        loss_sum, count, correct = 0.0, 0, 0
        with torch.no_grad(), self.accelerator.autocast():
            for input_ids, targets, attention_mask in validation_batches(blocks, self.cfg.batch_size, self.masking,
                                                                         self.cfg.seed, self.device, max_batches):
                logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits.float()
                scored = targets != IGNORE_INDEX
                loss_sum += F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX,
                                            reduction="sum").item()
                count += int(scored.sum())
                correct += int(((logits.argmax(-1) == targets) & scored).sum())
        model.train()
        loss = loss_sum / max(count, 1)
        metrics = {"eval_loss": round(loss, 4)}
        if self.masking is None:
            metrics["eval_perplexity"] = round(math.exp(min(loss, 50.0)), 3)
        else:
            metrics["eval_masked_accuracy"] = round(correct / max(count, 1), 4)
        return metrics

    # ------------------------------------------------------------------------------------------
    # Checkpoints

    def save_checkpoint(self, folder: Path, keep: int) -> Path:
        """<folder>/step-N through `accelerator.save_state`, with the step, the log and the open log window;
        written under a temporary name, the newest `keep` kept (llmkit.training.checkpoints)."""
        window = self.window.state(self.accelerator)  # every rank takes part in reducing its loss
        state = {"history": self.log_history, "window": window}
        return LoopCheckpoints(self.accelerator, folder, keep).save(self.step, state)

    def load_checkpoint(self, checkpoint: Path) -> None:
        """Restore everything `save_checkpoint` wrote; the next step is the one after the checkpoint."""
        state = LoopCheckpoints(self.accelerator, checkpoint.parent, keep=0).load(checkpoint)
        self.step = state["step"]
        self.log_history = state["history"]
        self.window = LogWindow.from_state(state["window"], self.device)


def validation_batches(blocks: Blocks, batch_size: int, masking: Masking | None, seed: int, device: Any,
                       max_batches: int = 0) -> Iterator[tuple[Any, Any, Any]]:
    """(input_ids, targets, attention_mask) over the validation blocks in order.

    BERT's validation masks come from a seed of their own, so every evaluation scores the same positions.
    """
    for i, start in enumerate(range(0, len(blocks), batch_size)):
        if max_batches and i >= max_batches:
            return
        input_ids = blocks.input_ids[start:start + batch_size].to(device)
        labels = blocks.labels[start:start + batch_size].to(device)
        yield model_inputs(input_ids, labels, masking, seed + 1, i)


def model_inputs(input_ids: Any, labels: Any, masking: Masking | None, seed: int, step: int) -> tuple[Any, Any, Any]:
    """(input_ids, targets, attention_mask) for blocks: shifted targets for a causal LM; for BERT, the blocks
    masked by (seed, step), targets at the masked positions and a mask that hides padding."""
    import torch

    if masking is None:
        return input_ids, shift_targets(labels), None
    from llmkit.pretraining.masking import mask_tokens

    real = labels != IGNORE_INDEX
    maskable = real & ~torch.isin(input_ids, torch.as_tensor(masking.special_ids, device=input_ids.device))
    corrupted, targets = mask_tokens(input_ids, maskable, masking.mask_id, masking.vocab_size, seed, step)
    return corrupted, targets, real.long()


def _adamw(model: Any, cfg: TrainSection, fused: bool) -> Any:
    """AdamW with weight decay on matrices and embeddings only, not on biases and norms (as nanoGPT and Trainer)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, fused=fused or None)


def _to_device_if_small(blocks: Blocks, device: Any, limit_bytes: int = 2**31) -> Blocks:
    # Indexing a GPU tensor per step beats copying batches over; a corpus too big for that stays on the host.
    size = blocks.input_ids.element_size() * blocks.input_ids.numel() * 2
    if device.type == "cpu" or size > limit_bytes:
        return blocks
    return Blocks(blocks.input_ids.to(device), blocks.labels.to(device))
