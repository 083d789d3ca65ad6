"""`llmkit train`: data sources, shaping for each model kind, runs that save a model which loads
back and reproduces its score, the XOR demo, the character LM, user errors, and a 2-process run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import llmkit  # noqa: F401  (registers the model types with the Auto classes)
from llmkit.config import build_config
from llmkit.config.classic import ClassicTrainConfig
from llmkit.data.images import load_arrays, model_inputs
from llmkit.errors import LlmkitError


def _config(tmp_path, model, data="digits", options=(), **train):
    return build_config(ClassicTrainConfig, {
        "model": {"name": model, "options": list(options)}, "data": {"path": str(data)},
        "output": str(tmp_path / "run"), "train": {"logging_steps": 5, **train}})


def _train(tmp_path, model, data="digits", options=(), **train):
    from llmkit.workflows import train as train_workflow

    return train_workflow.run(_config(tmp_path, model, data, options, **train))


def test_mlp_on_digits_saves_a_model_that_reproduces_its_score(tmp_path):
    from transformers import AutoModelForImageClassification

    result = _train(tmp_path, "mlp", epochs=3)
    out, metrics = result["output"], result["metrics"]
    for name in ("model.safetensors", "config.json", "llmkit_run.json", "llmkit_recipe.yaml", "loss_curve.png",
                 "accuracy_curve.png", "confusion_matrix.png"):
        assert (out / name).is_file(), name
    assert metrics["test_accuracy"] > 0.85 and metrics["world_size"] == 1
    record = json.loads((out / "llmkit_run.json").read_text())
    counts = np.array(record["confusion_matrix"])
    assert counts.sum() == record["data"]["test"] == 359  # ~20% of each digit, rounded per class
    assert np.trace(counts) / counts.sum() == pytest.approx(metrics["test_accuracy"], abs=1e-4)

    # the saved model, loaded through the Auto class, scores the same on the same test split
    model = AutoModelForImageClassification.from_pretrained(out).eval()
    test = model_inputs(load_arrays("digits"), "vector", "mlp", None).test
    with torch.no_grad():
        predictions = model(pixel_values=test.x).logits.argmax(-1)
    assert (predictions == test.y).float().mean().item() == pytest.approx(metrics["test_accuracy"], abs=1e-4)
    assert model.config.id2label[3] == "3"


def test_xor_one_layer_fails_two_layers_succeed(tmp_path):
    # The perceptron draws one line: at most 3 of the 4 XOR points can be right.
    perceptron = _train(tmp_path / "p", "perceptron", "xor", epochs=30, lr=0.05, batch_size=16)
    assert perceptron["metrics"]["test_accuracy"] <= 0.75
    mlp = _train(tmp_path / "m", "mlp", "xor", ["hidden_sizes=[8]", "activation=tanh", "dropout=0"],
                 epochs=30, lr=0.05, batch_size=16)
    assert mlp["metrics"]["test_accuracy"] == 1.0


def test_lstm_reads_digits_row_by_row_and_loads_back(tmp_path):
    from transformers import AutoModelForSequenceClassification

    result = _train(tmp_path, "lstm", options=["hidden_size=16"], epochs=1, max_steps=10)
    record = json.loads((result["output"] / "llmkit_run.json").read_text())
    assert record["data"]["inputs"].startswith("sequences of 8 steps x 8 features")
    model = AutoModelForSequenceClassification.from_pretrained(result["output"])
    assert model.config.input_size == 8 and model.config.hidden_size == 16


def test_shapes_for_each_model_kind():
    data = load_arrays("digits", limit=20)
    assert data.x_train.shape == (20, 1, 8, 8) and data.x_test.shape == (359, 1, 8, 8)
    assert model_inputs(data, "image", "lenet5", 32).train.x.shape == (20, 1, 32, 32)
    assert model_inputs(data, "vector", "mlp", None).train.x.shape == (20, 64)
    seq = model_inputs(data, "sequence", "lstm", None)
    assert seq.train.x.shape == (20, 8, 8) and seq.config["input_size"] == 8
    # rows as steps: step t of the sequence is row t of the (standardised) image
    norm = seq.config["input_normalization"]
    expected = (torch.from_numpy(data.x_train[3, 0, 5]) - norm["mean"]) / norm["std"]
    torch.testing.assert_close(seq.train.x[3, 5], expected)


def test_split_is_stratified_and_fixed():
    a, b = load_arrays("digits"), load_arrays("digits", limit=100)
    assert np.array_equal(a.y_test, b.y_test)  # the test set does not move with limit or train.seed
    assert np.bincount(a.y_test).min() >= 35  # every digit keeps about 20% of its ~180 images


def _digit_images(folder, split_folders=False):
    from PIL import Image

    data = load_arrays("digits")
    for i, (x, y) in enumerate(zip(data.x_train[:40], data.y_train[:40])):
        sub = folder / ("test" if split_folders and i % 4 == 0 else "train") if split_folders else folder
        (sub / f"digit{y}").mkdir(parents=True, exist_ok=True)
        Image.fromarray((x[0] * 255).astype(np.uint8), mode="L").save(sub / f"digit{y}" / f"{i}.png")
    return data


def test_image_folder_with_and_without_its_own_split(tmp_path):
    data = _digit_images(tmp_path / "flat")
    loaded = load_arrays(str(tmp_path / "flat"), test_fraction=0.25)
    assert loaded.x_train.shape[1:] == (1, 8, 8) and len(loaded.x_train) + len(loaded.x_test) == 40
    assert loaded.classes == sorted(f"digit{c}" for c in set(data.y_train[:40]))
    _digit_images(tmp_path / "split", split_folders=True)
    split = load_arrays(str(tmp_path / "split"))
    assert (len(split.x_train), len(split.x_test)) == (30, 10)


def test_csv_and_npz(tmp_path):
    data = load_arrays("digits", limit=50)
    flat = data.x_train.reshape(50, 64)
    header = ",".join([f"p{i}" for i in range(64)] + ["digit"])
    rows = [",".join(map(str, r)) + f",{y}" for r, y in zip(flat, data.y_train)]
    (tmp_path / "d.csv").write_text("\n".join([header, *rows]))
    csv = load_arrays(str(tmp_path / "d.csv"), label_column="digit", image_shape=[1, 8, 8])
    assert csv.x_train.shape[1:] == (1, 8, 8)
    np.savez(tmp_path / "d.npz", x=(data.x_train[:, 0] * 255).astype(np.uint8), y=data.y_train)
    npz = load_arrays(str(tmp_path / "d.npz"))
    assert npz.x_train.shape[1:] == (1, 8, 8) and npz.x_train.max() <= 1.0
    with pytest.raises(LlmkitError, match="set data.label_column"):
        load_arrays(str(tmp_path / "d.csv"))


@pytest.mark.parametrize("model,data,options,message", [
    ("lenet-7", "digits", [], "unknown model 'lenet-7'"),
    ("lenet5", "missing.png", [], "does not exist"),
    ("lenet5", "digits", ["hidden=3"], "has no option 'hidden'"),
    ("lenet5", "digits", ["activation=swish"], "cannot build lenet5"),
    ("lstm", "flat.csv", [], "reads sequences"),
    ("lenet5", "flat.csv", [], "reads images"),
    ("lstm", "corpus.txt", [], "use --model lstm-charlm"),
    ("lstm-charlm", "digits", [], "must be an existing .txt file"),
])
def test_user_errors_say_what_to_do(tmp_path, model, data, options, message):
    (tmp_path / "flat.csv").write_text("a,b,label\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(20)))
    (tmp_path / "corpus.txt").write_text("some text " * 100)
    path = data if data in ("digits", "missing.png") else tmp_path / data
    with pytest.raises(LlmkitError, match=message):
        _train(tmp_path, model, path, options, max_steps=1)
    assert not (tmp_path / "run").exists()  # bad input leaves nothing behind


def test_char_lm_trains_generates_and_loads_back(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"line {i % 7}: abc abd abe.\n" for i in range(300)))
    cfg = _config(tmp_path, "lstm-charlm", corpus, ["hidden_size=32", "input_size=16", "num_layers=1"],
                  epochs=4, lr=1e-2, batch_size=16)
    cfg.data.block_size = 32
    from llmkit.workflows import train as train_workflow

    result = train_workflow.run(cfg)
    out = result["output"]
    losses = [e["loss"] for e in json.loads((out / "loss_history.json").read_text()) if "loss" in e]
    assert losses[-1] < losses[0] * 0.6
    assert result["metrics"]["eval_perplexity"] < 10  # from ~20 characters at random
    model, tokenizer = AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    ids = tokenizer("line 3: ab", return_tensors="pt")["input_ids"]
    generated = tokenizer.decode(model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8,
                                                do_sample=False)[0])
    assert generated.startswith("line 3: ab") and len(generated) == len("line 3: ab") + 8


def _llmkit(*args, env_extra=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "llmkit", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def test_models_table():
    from llmkit.models.classic.registry import PRESETS, model_table

    rows = {row[0]: row for row in model_table()}
    assert set(rows) == set(PRESETS)
    assert rows["lenet5"][2] == "61,706" and rows["vgg16"][2] == "138,357,544" and rows["resnet18"][2] == "11,689,512"
    # GoogLeNet: all parameters, and those used at inference (no auxiliary heads)
    assert rows["googlenet-torchvision"][2:4] == ["13,004,888", "6,624,904"]


def test_cli_one_line_error(tmp_path):
    bad = _llmkit("train", "--model", "lenet-7", "--output", tmp_path / "o")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: unknown model 'lenet-7'")
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_two_processes_train_through_trainer(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "llmkit", "train", "--model", "mlp", "--epochs", "1", "--output", str(out)],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "llmkit_run.json").read_text())
    assert record["metrics"]["world_size"] == 2
    # 1437 examples, 64 per process per step, 2 processes: 12 steps in an epoch (23 with one process)
    assert record["metrics"]["steps"] == 12
    assert result.stdout.count("saved to") == 1  # only the main process writes
    assert (out / "model.safetensors").is_file()


def test_rnn_classifies_texts_with_a_character_tokenizer(tmp_path):
    import random

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rng = random.Random(0)
    # the label is whether the text mentions "good"; lengths vary, so batches are padded
    rows = [{"text": " ".join(rng.choice(["fine", "day", "the", "a"]) for _ in range(rng.randint(2, 9)))
             + (" good" if i % 2 else " bad"), "label": "pos" if i % 2 else "neg"} for i in range(200)]
    file = tmp_path / "texts.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in rows))
    result = _train(tmp_path, "gru", file, ["hidden_size=16", "input_size=8"], epochs=8, lr=1e-2, batch_size=16)
    assert result["metrics"]["test_accuracy"] >= 0.9
    out = result["output"]
    model, tokenizer = AutoModelForSequenceClassification.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    batch = tokenizer(["the day was good", "a bad"], padding=True, return_tensors="pt")
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).tolist()
    assert [model.config.id2label[i] for i in predicted] == ["pos", "neg"]
    with pytest.raises(LlmkitError, match="holds texts"):
        _train(tmp_path / "cnn", "lenet5", file, max_steps=1)


def test_text_classification_with_a_tokenizer_folder(tmp_path):
    from llmkit.data.chars import char_tokenizer
    from llmkit.data.texts import load_text_classification

    char_tokenizer("abc ").save_pretrained(tmp_path / "tok")
    file = tmp_path / "t.csv"
    file.write_text("text,label\n" + "\n".join(f"{'ab' * (i % 5 + 1)} c,{i % 2}" for i in range(40)))
    data = load_text_classification(str(file), text_column="text", label_column="label",
                                    tokenizer=str(tmp_path / "tok"), max_length=4, test_fraction=0.25,
                                    split_seed=0, limit=0)
    assert len(data.train) == 30 and len(data.test) == 10 and data.classes == ["0", "1"]
    assert all(len(row["input_ids"]) <= 4 for row in data.train)  # truncated to max_length
    with pytest.raises(LlmkitError, match="is not a folder"):
        load_text_classification(str(file), text_column="text", label_column="label", tokenizer=str(file),
                                 max_length=4, test_fraction=0.25, split_seed=0, limit=0)


def test_every_classic_recipe_is_valid():
    from llmkit.models.classic.registry import get_preset
    from llmkit.recipes import all_recipes
    from llmkit.workflows.train import parse_options

    recipes = [r for r in all_recipes() if r.job == "train"]
    assert len(recipes) >= 10
    for recipe in recipes:
        cfg = build_config(ClassicTrainConfig, recipe.load(), source=str(recipe.path))
        preset = get_preset(cfg.model.name)
        parse_options(cfg.model.options, preset)
        assert f"llmkit train --recipe {recipe.name}" in recipe.path.read_text()  # the header says how to run it


def test_shift_moves_the_image_and_fills_the_border():
    from llmkit.data.images import _translate

    image = torch.arange(1.0, 17.0).reshape(1, 4, 4)
    torch.manual_seed(0)
    for _ in range(20):
        out = _translate(image, 1, fill=-5.0)
        # find the shift back: exactly one (dy, dx) in [-1, 1]^2 reproduces `out` from `image`
        matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if torch.equal(out, _shift_by(image, dy, dx, -5.0))]
        assert len(matches) == 1


def _shift_by(image, dy, dx, fill):
    out = torch.full_like(image, fill)
    for y in range(4):
        for x in range(4):
            if 0 <= y - dy < 4 and 0 <= x - dx < 4:
                out[0, y, x] = image[0, y - dy, x - dx]
    return out
