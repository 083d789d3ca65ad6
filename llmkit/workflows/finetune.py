"""Fine-tune a model with a method from the table (full, freeze, LoRA, ..., P-tuning v2) on a task.

Tasks: `sft` (chat data, answer-only labels, held-out exact match; llmkit/tasks/sft.py) and `classify`
(a new classification head, held-out accuracy; llmkit/tasks/classify.py).

Steps: 1. check inputs  2. base model + tokenizer  3. data -> token ids  4. score before
5. wrap with the method and train with Trainer  6. save what the method trained, with a manifest that
says how to reload it  7. score after and print the before/after table.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config import to_dict
from llmkit.config.finetune import FinetuneConfig
from llmkit.distributed import is_main_process, weights_are_sharded, world_size
from llmkit.errors import LlmkitError, RunInterrupted
from llmkit.plots.loss_curve import save_loss_curve
from llmkit.run_dir import (
    RunRecord,
    check_free_space,
    check_output_dir,
    check_writable,
    checkpoint_bytes,
    claim_output_dir,
    default_output,
    prepare_output_dir,
    saving_into,
)
from llmkit.training.checkpoints import CHECKPOINTS, checkpoint_to_resume, checkpoints
from llmkit.training.replicas import distributed_summary
from llmkit.training.trainer import save_sharded_model, train_summary, training_arguments
from llmkit.tuning.families import Family
from llmkit.tuning.method import Method, parameter_counts
from llmkit.tuning.methods import get_method
from llmkit.tuning.save_formats import SAVE_FORMATS, save_format_of


def run(cfg: FinetuneConfig) -> dict[str, Any]:
    # 1. Everything a user can get wrong is checked before a model loads.
    method = get_method(cfg.method)
    cfg = method.with_lr(cfg)  # before the run record saves the recipe: it shows the rate used
    method.check_settings(cfg)
    if weights_are_sharded() and not SAVE_FORMATS[method.save_format].from_shards:
        raise LlmkitError(f"--method {method.name} saves its weights in llmkit's own format, which cannot be "
                          f"gathered from FSDP / ZeRO-3 shards yet; use DDP or DeepSpeed ZeRO-2 for it")
    output = Path(cfg.output) if cfg.output else default_output("finetune", cfg.method)
    resume_from = (checkpoint_to_resume(Path(cfg.output) if cfg.output else None,
                                        "every train.save_steps steps and on Ctrl-C") if cfg.resume else None)
    if resume_from is None:
        check_output_dir(output, cfg.overwrite, cfg)
    else:
        check_writable(output)
        claim_output_dir(output)
    task = _make_task(cfg)

    # 2. Base model and tokenizer. Seed after the built-in base is found (building it draws random numbers) and
    # before loading: a classifier's new head initialises randomly as it loads, and adapters as the method
    # wraps the model (Trainer seeds only later). So a run that builds the base trains as one that finds it cached.
    from transformers import set_seed

    base_path = _local_base(cfg.model.path) if cfg.model.path else str(_builtin_base())
    set_seed(cfg.train.seed)
    family = _family(base_path, cfg)
    model_kwargs = method.load_kwargs(cfg, family) if method.load_kwargs else {}
    model, tokenizer = _load_base(base_path, cfg, method, family, task.labels, model_kwargs)

    if resume_from is None:
        prepare_output_dir(output, cfg.overwrite, cfg)
    record = RunRecord(output, "finetune", cfg)
    record.update(base_model=base_path, resumed_from=str(resume_from) if resume_from else None)

    # 3. Data.
    record.start("tokenize")
    train_set, stats = task.tokenize(tokenizer)
    record.stop("tokenize")
    record.update(data=stats, refused_rows=list(task.refused_rows))

    # 4. Score the base model. On CPU, bitsandbytes repacks 4-bit weights for inference the first time
    # they run without grad, and layers with a bias cannot train after that: a quantised base is scored
    # after training instead, with the adapter switched off (the same weights).
    scores: dict[str, float] = {}
    score_before = bool(task.n_eval and cfg.eval.before) and is_main_process()  # scoring is rank 0's
    if score_before and not method.quantized_base:
        record.start("eval_before")
        scores["before"], _ = task.score(model, tokenizer, "scoring base model")
        record.stop("eval_before")

    # 5. Train.
    from llmkit.tuning.context import BuildContext

    ctx = BuildContext(task=cfg.task, base_path=base_path, total_steps=_planned_steps(cfg, len(train_set)),
                       family=family)
    model = method.build(model, cfg, ctx)
    if cfg.task == "sft":
        from llmkit.tuning.prompt_generation import fix_prompt_learning_generation

        fix_prompt_learning_generation(model)  # held-out answers are generated
    trainable, total = parameter_counts(model)
    console.info(f"method {method.name}: {trainable:,} trainable of {total:,} parameters "
                 f"({100 * trainable / total:.2f}%)")
    if is_main_process():
        check_free_space(output, _bytes_to_save(model, method, cfg, ctx.total_steps),
                         "the trained weights and their checkpoints")
    packing = _use_packing(cfg, method, family)
    trainer = _trainer(model, tokenizer, train_set, task.collator(tokenizer, packing), cfg, method, output)
    from llmkit.training.resumable import StopOnInterrupt, stop_on_ctrl_c

    stop = StopOnInterrupt(save=cfg.train.save_steps > 0)
    trainer.add_callback(stop)
    if resume_from is not None:
        console.info(f"resuming from {resume_from}")
    record.start("train")
    with stop_on_ctrl_c(stop):
        train_output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    record.stop("train")
    if stop.requested:
        _stop_interrupted(record, trainer.state, output)
    metrics = {**train_summary(trainer, train_output), "trainable_parameters": trainable,
               "total_parameters": total}
    record.update(distributed=distributed_summary(trainer))
    weights_saved = save_sharded_model(trainer, output)  # every rank takes part in gathering shards
    if method.report is not None:
        record.update(**method.report(model))
    if not is_main_process():  # the other ranks are done: rank 0 saves and scores
        return {"output": output, "metrics": metrics}

    # 6. Save what the method trained, and how to load it back; a finished run needs no checkpoints.
    try:
        save_finetuned(model, tokenizer, output, method, cfg, base_path, task.labels, model_kwargs,
                       weights_saved=weights_saved)
    except OSError as e:  # a full disk, a folder made read-only during the run
        with contextlib.suppress(OSError):  # on a full disk the record may not fit either: it then says "running"
            record.update(status="failed", error=f"saving: {e}")
        kept = checkpoints(output / CHECKPOINTS)
        advice = (f"the checkpoint {kept[-1]} is kept: free space, then `llmkit finetune --resume {output}`"
                  if kept else "free space or choose another --output")
        raise LlmkitError(f"cannot save the trained model in {output} ({e.strerror or e}); {advice}") from e
    shutil.rmtree(output / CHECKPOINTS, ignore_errors=True)
    save_loss_curve(trainer.state.log_history, output, f"finetune {method.name}")

    # 7. Score again and report.
    if score_before and method.quantized_base:
        record.start("eval_before")
        with model.disable_adapter():
            scores["before"], _ = task.score(model, tokenizer, "scoring base model")
        record.stop("eval_before")
    if task.n_eval:
        record.start("eval_after")
        scores["after"], items = task.score(model, tokenizer, "scoring fine-tuned model")
        record.stop("eval_after")
        _write_predictions(items, output / "predictions.jsonl")
    metrics.update({f"{task.metric}_{k}": round(v, 2) for k, v in scores.items()})
    record.update(metrics=metrics, status="finished")
    console.info("\n" + summary_table(method.name, metrics, task.metric, task.n_eval))
    console.info(f"saved to {output}")
    return {"output": output, "metrics": metrics, "model": model, "tokenizer": tokenizer}


def _stop_interrupted(record: RunRecord, state: Any, output: Path) -> None:
    """Mark the run interrupted and stop it with a line that says what was kept and how to go on."""
    record.update(status="interrupted", step=state.global_step, max_steps=state.max_steps)
    kept = checkpoints(output / CHECKPOINTS)
    where = f"step {state.global_step} of {state.max_steps}"
    if kept:
        raise RunInterrupted(f"stopped at {where}; checkpoint {kept[-1]} kept; continue with "
                             f"`llmkit finetune --resume {output}`")
    raise RunInterrupted(f"stopped at {where}; no checkpoint kept (train.save_steps is 0)")


def _make_task(cfg: FinetuneConfig) -> Any:
    if cfg.task == "classify":
        from llmkit.tasks.classify import ClassifyTask

        return ClassifyTask(cfg)
    from llmkit.tasks.sft import SftTask

    return SftTask(cfg)


def _local_base(path: str) -> str:
    """`path`, or the converted folder of a GGUF model: outputs record a base that plain transformers loads."""
    from llmkit.models.gguf import converted_folder

    return converted_folder(path) or path


def _builtin_base() -> Path:
    from llmkit.workflows.builtin_base import ensure_builtin_base

    return ensure_builtin_base()


def _family(base_path: str, cfg: FinetuneConfig) -> Family | None:
    from llmkit.models.loading import load_config
    from llmkit.tuning.families import family_of

    config = load_config(base_path, cfg.model.trust_remote_code)
    family = family_of(config)
    if family is None:
        console.warn(f"llmkit has no entry for model type {config.model_type!r}: targets must be named "
                     f"(--target, or all-linear for LoRA-style methods)")
    elif cfg.task == "classify" and not family.classify:
        raise LlmkitError(f"model type {config.model_type!r} has no sequence-classification head in llmkit")
    return family


def _load_base(base_path: str, cfg: FinetuneConfig, method: Method, family: Family | None,
               labels: list[str] | None, model_kwargs: dict[str, Any]) -> tuple[Any, Any]:
    from llmkit.models.loading import load_model, load_tokenizer

    tokenizer = load_tokenizer(base_path, cfg.model.trust_remote_code,
                               chat=cfg.task == "sft")
    if cfg.task == "classify":
        tokenizer.padding_side = "right" if family and family.encoder else "left"
    model = load_model(base_path, task=cfg.task, dtype=cfg.model.dtype, trust_remote_code=cfg.model.trust_remote_code,
                       labels=labels, pad_token_id=tokenizer.pad_token_id,
                       quantization=method.quantization(cfg),
                       model_kwargs=model_kwargs, attention=cfg.model.attention)
    return model, tokenizer


def _planned_steps(cfg: FinetuneConfig, n_examples: int) -> int:
    if cfg.train.max_steps > 0:
        return cfg.train.max_steps
    per_step = cfg.train.batch_size * cfg.train.grad_accum * world_size()
    return max(1, math.ceil(cfg.train.epochs * math.ceil(n_examples / per_step)))


def _bytes_to_save(model: Any, method: Method, cfg: FinetuneConfig, steps: int) -> int:
    """About what the run writes at its peak: the saved weights (the whole model when the method saves one)
    beside its checkpoints of the trainable weights. Ctrl-C or the last step writes one even in a short run."""
    trained = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    whole = sum(p.numel() * p.element_size() for p in model.parameters())
    saved = whole if save_format_of(method, model).name == "model" else trained
    return saved + checkpoint_bytes(trained, steps, cfg.train.save_steps, cfg.train.keep_checkpoints)


def _use_packing(cfg: FinetuneConfig, method: Method, family: Family | None) -> bool:
    if cfg.task != "sft" or not cfg.data.packing:
        return False
    if not method.packing:
        console.info(f"packing off: {method.name} puts its virtual tokens once per row, so each example "
                     f"gets its own padded row")
        return False
    if family is not None and not family.packing:
        console.info("packing off: this model's attention mask ignores position ids, so packed examples "
                     "would see each other")
        return False
    return True


def _trainer(model: Any, tokenizer: Any, train_set: Any, collator: Any, cfg: FinetuneConfig, method: Method,
             output: Path) -> Any:
    from llmkit.training.replicas import RankAudit
    from llmkit.training.resumable import ResumableTrainer

    callbacks = [RankAudit(), *(method.callbacks(model, cfg) if method.callbacks else [])]
    model.config.use_cache = False
    # Classification batches carry token_type_ids/attention_mask the model takes; keep every column.
    args = training_arguments(cfg.train, output, remove_unused_columns=False, save_steps=cfg.train.save_steps,
                              keep_checkpoints=cfg.train.keep_checkpoints)
    return ResumableTrainer(model=model, args=args,
                   train_dataset=train_set, data_collator=collator, processing_class=tokenizer,
                   callbacks=callbacks)


def save_finetuned(model: Any, tokenizer: Any, output: Path, method: Method, cfg: FinetuneConfig,
                   base_path: str, labels: list[str] | None, model_kwargs: dict[str, Any], *,
                   weights_saved: bool = False) -> None:
    """Write what `method` trained (and only that), the tokenizer, and the manifest that reloads them.

    weights_saved: the weights were already gathered from shards and saved (training.save_sharded_model)."""
    from llmkit.models.finetuned import FinetuneManifest

    form = save_format_of(method, model)
    quantization = method.quantization(cfg)
    with saving_into(output) as staging:
        if not weights_saved:
            form.save(model, staging)
        tokenizer.save_pretrained(staging)
        FinetuneManifest(method=method.name, task=cfg.task, base_model=recorded_base(base_path), format=form.name,
                         labels=labels, quantization=to_dict(quantization) if quantization is not None else None,
                         trust_remote_code=cfg.model.trust_remote_code, model_kwargs=model_kwargs).write(staging)


def recorded_base(base_path: str) -> str:
    """How an output names its base: llmkit's built-in base by name (its cache folder differs between
    machines, and a pushed adapter must reload anywhere), another local base as an absolute path (so the
    output reloads from any working directory), a Hub id as it is."""
    from llmkit.cache import BUILTIN_BASE_NAME
    from llmkit.workflows.builtin_base import builtin_base_path

    local = Path(base_path).expanduser()
    if not local.exists():
        return base_path
    return BUILTIN_BASE_NAME if local.resolve() == builtin_base_path().resolve() else str(local.resolve())


def _write_predictions(items: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def summary_table(method: str, metrics: dict[str, Any], metric: str, n_eval: int) -> str:
    label = metric.replace("_", " ") + " %"
    rows = []
    if f"{metric}_before" in metrics:
        rows.append(["base model", f"{metrics[f'{metric}_before']:.1f}", "-", "-", "-"])
    after = f"{metrics[f'{metric}_after']:.1f}" if f"{metric}_after" in metrics else "-"
    rows.append([f"+ {method}", after, f"{metrics['trainable_parameters']:,}",
                 f"{metrics['train_seconds']:.0f}", f"{metrics['tokens_per_second']:.0f}"])
    return console.table([f"model (held-out n={n_eval})", label, "trainable params", "train s", "tokens/s"], rows)
