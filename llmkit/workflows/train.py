"""Train a classic network (MLP, LeNet-5, AlexNet, VGG, GoogLeNet, ResNet, RNN) with transformers.Trainer.

Steps: 1. check the model name, options and output folder  2. read and shape the data  3. build the
model from its preset, sized by the data  4. train with Trainer, scoring the test split each epoch
(accuracy and macro F1 from llmkit's evaluate modules)  5. save the model, curves, confusion matrix
and run record. A preset reading text (`lstm-charlm`) trains a character language model instead
(llmkit.workflows.charlm). Several processes (`accelerate launch`) split the batches; only the main
one writes.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from llmkit import console
from llmkit.config.classic import ClassicTrainConfig
from llmkit.data.images import ModelInputs
from llmkit.distributed import is_main_process
from llmkit.errors import LlmkitError
from llmkit.models.classic.registry import Preset, get_preset
from llmkit.plots.loss_curve import save_loss_curve
from llmkit.run_dir import RunRecord, check_output_dir, default_output, prepare_output_dir, saving_into
from llmkit.training.replicas import distributed_summary
from llmkit.training.trainer import save_sharded_model, train_summary, training_arguments


def run(cfg: ClassicTrainConfig) -> dict[str, Any]:
    # 1. Everything a user can get wrong is checked before a model is built.
    preset = get_preset(cfg.model.name)
    options = parse_options(cfg.model.options, preset)
    output = Path(cfg.output) if cfg.output else default_output("train", preset.name)
    main = is_main_process()
    if main:
        check_output_dir(output, cfg.overwrite, cfg)
    if preset.input == "text" or cfg.data.path.endswith(".txt"):
        from llmkit.workflows import charlm

        return charlm.run(cfg, preset, options, output)

    # 2. Data, shaped for the model: vectors, images at the model's size, rows as time steps, or texts
    # as token ids.
    inputs, classes, tokenizer, source = _data(cfg, preset)
    console.info(f"data: {source}, {len(inputs.train)} training and {len(inputs.test)} test examples, "
                 f"{len(classes)} classes, {inputs.describe}")

    # 3. The model: the preset's architecture, with inputs and classes from the data.
    from transformers import Trainer, set_seed

    sized = {"num_labels": len(classes), "id2label": dict(enumerate(classes)),
             "label2id": {c: i for i, c in enumerate(classes)}, **inputs.config}
    set_seed(cfg.train.seed)  # before the model: its initialisation is random
    model = preset.build_model(**{**sized, **options})
    n_params = sum(p.numel() for p in model.parameters())
    console.info(f"model: {preset.name} ({type(model).__name__}), {n_params:,} parameters")

    # 4. Train, scoring the test split after every epoch.
    args = training_arguments(cfg.train, output, has_eval=True, remove_unused_columns=False)
    args.include_num_input_tokens_seen = "no"  # images have no tokens; examples/s is reported instead
    with args.main_process_first(desc="loading metrics"):  # evaluate copies modules into HF_HOME once
        from llmkit.eval.metrics import classification_metrics

        metric = classification_metrics()
    record = None
    if main:
        prepare_output_dir(output, cfg.overwrite, cfg)
        record = RunRecord(output, "train", cfg)
        record.update(model={"preset": preset.name, "class": type(model).__name__, "parameters": n_params},
                      data={"source": source, "train": len(inputs.train), "test": len(inputs.test),
                            "classes": classes, "inputs": inputs.describe})

    def compute_metrics(prediction: Any) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return metric.compute(predictions=np.argmax(logits, axis=-1), references=prediction.label_ids)

    collator = None
    if tokenizer is not None:  # texts differ in length: pad each batch to its longest
        from transformers import DataCollatorWithPadding

        collator = DataCollatorWithPadding(tokenizer)
    from llmkit.training.replicas import RankAudit

    trainer = Trainer(model=model, args=args, train_dataset=inputs.train, eval_dataset=inputs.test,
                      compute_metrics=compute_metrics, data_collator=collator, callbacks=[RankAudit()])
    if record:
        record.start("train")
    train_output = trainer.train()
    train_seconds = train_output.metrics["train_runtime"]
    result = trainer.predict(inputs.test)
    summary = train_summary(trainer, train_output)
    metrics = {
        "test_accuracy": round(result.metrics["test_accuracy"], 4),
        "test_macro_f1": round(result.metrics["test_macro_f1"], 4),
        "test_loss": round(result.metrics["test_loss"], 4),
        "train_loss": summary["train_loss"], "steps": summary["steps"], "epochs": round(trainer.state.epoch, 2),
        "train_seconds": round(train_seconds, 2),
        "examples_per_second": round(train_output.metrics["train_samples_per_second"], 1),
        "parameters": n_params, "world_size": args.world_size,
    }
    weights_saved = save_sharded_model(trainer, output)  # every rank takes part in gathering shards
    if not main:
        return {"output": output, "metrics": metrics}
    record.update(distributed=distributed_summary(trainer))

    # 5. Save the model (loads back with AutoModelFor*.from_pretrained after `import llmkit`) and plots.
    from llmkit.plots.classifier import confusion_matrix, save_accuracy_curve, save_confusion_matrix

    record.stop("train")
    with saving_into(output) as staging:
        if not weights_saved:
            model.save_pretrained(staging)
        if tokenizer is not None:
            tokenizer.save_pretrained(staging)
    logits = result.predictions[0] if isinstance(result.predictions, tuple) else result.predictions
    counts = confusion_matrix(np.argmax(logits, axis=-1), result.label_ids, len(classes))
    save_confusion_matrix(counts, classes, output, f"{preset.name} on {Path(source).name}")
    save_loss_curve(trainer.state.log_history, output, f"train {preset.name}")
    save_accuracy_curve(trainer.state.log_history, output, f"{preset.name} on {Path(source).name}")
    record.update(metrics=metrics, confusion_matrix=counts.tolist(), status="finished")
    console.info(console.table(
        ["model", "params", "epochs", "train s", "test accuracy", "macro F1"],
        [[preset.name, f"{n_params:,}", metrics["epochs"], metrics["train_seconds"],
          f"{100 * metrics['test_accuracy']:.2f}%", f"{metrics['test_macro_f1']:.4f}"]]))
    console.info(f"saved to {output}")
    return {"output": output, "metrics": metrics}


def _data(cfg: ClassicTrainConfig, preset: Preset) -> tuple[Any, list[str], Any, str]:
    """(model inputs, class names, tokenizer or None, source) for the preset's kind of input."""
    from llmkit.data.texts import is_text_table

    d = cfg.data
    if is_text_table(d.path, d.text_column):
        if preset.input != "sequence":
            raise LlmkitError(f"{d.path} holds texts; {preset.name} reads {preset.input}s: pick rnn, lstm, gru "
                              f"or bilstm")
        from llmkit.data.texts import load_text_classification

        texts = load_text_classification(d.path, text_column=d.text_column, label_column=d.label_column,
                                         tokenizer=d.tokenizer, max_length=d.max_length,
                                         test_fraction=d.test_fraction, split_seed=d.split_seed, limit=d.limit)
        # token ids go through an embedding; the preset's input_size (8, one digit row) is too narrow
        config = {"vocab_size": len(texts.tokenizer), "input_size": 64, "pad_token_id": texts.tokenizer.pad_token_id}
        inputs = ModelInputs(texts.train, texts.test, config, f"token ids (vocabulary {len(texts.tokenizer)})")
        return inputs, texts.classes, texts.tokenizer, texts.source

    from llmkit.data.images import load_arrays, model_inputs

    data = load_arrays(d.path, label_column=d.label_column, image_shape=d.image_shape or None,
                       test_fraction=d.test_fraction, split_seed=d.split_seed, limit=d.limit)
    image_size = d.image_size or preset.image_size
    inputs = model_inputs(data, preset.input, preset.name, image_size, shift=d.shift)
    if preset.input == "image":
        inputs.config["image_size"] = image_size  # saved in config.json: the size the model was trained at
    return inputs, data.classes, None, data.source


def parse_options(items: list[str], preset: Preset) -> dict[str, Any]:
    """`model.options` entries KEY=VALUE (YAML values), checked against the preset's config class."""
    import yaml

    valid = [p for p in inspect.signature(preset.config_class().__init__).parameters if p not in ("self", "kwargs")]
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise LlmkitError(f"model.options expects KEY=VALUE (e.g. hidden_size=64), got {item!r}")
        if key not in valid:
            raise LlmkitError(f"model.options: {preset.name} has no option {key!r}; valid: {', '.join(valid)}")
        try:
            options[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise LlmkitError(f"model.options {item!r}: the value is not valid YAML") from None
    return options
