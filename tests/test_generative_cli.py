"""`llmkit gan` and `llmkit diffusion` on the command line: sub-commands, one-line errors, a tiny run."""

from __future__ import annotations

import json

from test_cli import _assert_one_line_error, llmkit


def test_sub_commands_are_listed():
    gan, diffusion = llmkit("gan", "--help"), llmkit("diffusion", "--help")
    assert gan.returncode == 0 and diffusion.returncode == 0
    assert all(c in gan.stdout for c in ("train", "sample"))
    assert all(c in diffusion.stdout for c in ("train", "sample", "finetune"))


def test_bad_input_is_one_line_errors(tmp_path):
    _assert_one_line_error(llmkit("diffusion", "sample", "--model", str(tmp_path), "--output", str(tmp_path / "o")),
                           "not a diffusers pipeline folder")
    _assert_one_line_error(llmkit("gan", "train", "--set", "train.nope=1", "--output", str(tmp_path / "o")),
                           "unknown key 'train.nope'")
    _assert_one_line_error(llmkit("diffusion", "finetune", "--output", str(tmp_path / "o")), "needs --model")
    assert not (tmp_path / "o").exists()


def test_gan_train_then_sample(tmp_path):
    run, samples = tmp_path / "run", tmp_path / "samples"
    train = llmkit("gan", "train", "--max-steps", "2", "--batch-size", "8", "--output", str(run),
                   "--set", "data.image_size=16", "--set", "data.limit=16", "--set", "model.generator_channels=8",
                   "--set", "model.discriminator_channels=8", "--set", "train.sample_steps=0")
    assert train.returncode == 0, train.stderr
    assert json.loads((run / "llmkit_run.json").read_text())["metrics"]["steps"] == 2
    sample = llmkit("gan", "sample", "--model", str(run), "-n", "3", "--seed", "1", "--output", str(samples))
    assert sample.returncode == 0, sample.stderr
    assert len(list((samples / "images").glob("*.png"))) == 3 and (samples / "grid.png").is_file()
