"""The built-in base model is built once, atomically, and reused from the cache."""

import pytest

from llmkit.workflows import builtin_base as builtin

TINY_RECIPE = """# a tiny stand-in for llama-tiny
corpus: {builtin_documents: 200, block_size: 32}
tokenizer: {vocab_size: 300}
arch: {hidden_size: 32, layers: 1, heads: 2, intermediate_size: 64}
train: {batch_size: 8, logging_steps: 5}
"""


@pytest.fixture
def tiny_recipe(tmp_path, monkeypatch):
    """The built-in base's recipe swapped for a tiny one, cached under tmp_path/cache."""
    recipe = tmp_path / "tiny-base.yaml"
    recipe.write_text(TINY_RECIPE)
    monkeypatch.setattr(builtin, "BASE_RECIPE", str(recipe))
    monkeypatch.setenv("LLMKIT_CACHE", str(tmp_path / "cache"))
    return recipe


def test_built_once_then_reused(tmp_path, tiny_recipe):
    path = builtin.ensure_builtin_base()
    assert path.parent == tmp_path / "cache" / "models"
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert not list(path.parent.glob("*.partial"))
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert builtin.ensure_builtin_base() == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rebuilt

    # Editing the recipe gives a new cache entry rather than a stale model.
    tiny_recipe.write_text(TINY_RECIPE.replace("layers: 1", "layers: 2"))
    assert builtin.builtin_base_path() != path


def test_outputs_name_the_built_in_base_and_the_workflows_expand_the_name(tmp_path, tiny_recipe, monkeypatch):
    # An adapter pushed from a run on the built-in base must reload on a machine whose cache is elsewhere.
    from llmkit.errors import LlmkitError
    from llmkit.hub.resolve import resolve_source
    from llmkit.workflows.finetune import recorded_base

    path = builtin.ensure_builtin_base()

    assert recorded_base(str(path)) == builtin.BUILTIN_BASE_NAME
    assert builtin.expand_builtin_base(builtin.BUILTIN_BASE_NAME) == str(path)
    assert builtin.expand_builtin_base("my-llama") == "my-llama"
    with pytest.raises(LlmkitError, match="does not exist"):  # a path resolver never builds a model
        resolve_source(builtin.BUILTIN_BASE_NAME)
    other = tmp_path / "my-llama"
    other.mkdir()
    monkeypatch.chdir(tmp_path)
    assert recorded_base("my-llama") == str(other.resolve())  # reloads from any working directory
    assert recorded_base("meta-llama/Llama-3.2-1B") == "meta-llama/Llama-3.2-1B"


def test_an_interrupted_build_resumes_from_its_last_checkpoint(tmp_path, tiny_recipe, monkeypatch):
    import torch
    from safetensors.torch import load_file

    from llmkit.pretraining.loop import Pretrainer

    tiny_recipe.write_text(TINY_RECIPE + "monitor: {save_steps: 4}\n")
    save, load = Pretrainer.save_checkpoint, Pretrainer.load_checkpoint
    loaded = []

    def save_then_die(self, folder, keep):  # Ctrl-C right after the first checkpoint is written
        save(self, folder, keep)
        raise KeyboardInterrupt

    monkeypatch.setattr(Pretrainer, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        builtin.ensure_builtin_base()
    staging = builtin.builtin_base_path().with_name(builtin.builtin_base_path().name + ".partial")
    assert (staging / "checkpoints" / "step-4").is_dir()

    monkeypatch.setattr(Pretrainer, "save_checkpoint", save)
    monkeypatch.setattr(Pretrainer, "load_checkpoint", lambda self, path: (loaded.append(path), load(self, path)))
    resumed = builtin.ensure_builtin_base()
    assert loaded == [staging / "checkpoints" / "step-4"]
    assert not staging.exists()

    # The resumed build is the base an uninterrupted build makes.
    monkeypatch.setenv("LLMKIT_CACHE", str(tmp_path / "other-cache"))
    whole = builtin.ensure_builtin_base()
    resumed_weights, whole_weights = load_file(resumed / "model.safetensors"), load_file(whole / "model.safetensors")
    assert all(torch.equal(resumed_weights[k], whole_weights[k]) for k in whole_weights)


def test_a_fine_tune_that_builds_the_base_trains_as_one_that_finds_it_cached(tmp_path, tiny_recipe):
    import json

    from llmkit.config import build_config
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.workflows import finetune

    def losses(name):
        out = tmp_path / name
        finetune.run(build_config(FinetuneConfig, {"output": str(out), "eval": {"limit": 0},
                                                   "train": {"max_steps": 3, "logging_steps": 1}}))
        return [e["loss"] for e in json.loads((out / "loss_history.json").read_text()) if "loss" in e]

    building = losses("first")  # builds the base in this process first
    assert losses("second") == building
