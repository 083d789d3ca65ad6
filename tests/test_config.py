import pytest

from llmkit.config import build_config, parse_set_overrides
from llmkit.config.finetune import FinetuneConfig
from llmkit.config.pretrain import PretrainConfig
from llmkit.errors import LlmkitError
from llmkit.recipes import all_recipes, resolve


def test_precedence_defaults_recipe_flags_set():
    recipe = {"train": {"lr": 1e-3, "epochs": 2}, "lora": {"r": 4}}
    flags = {"train": {"lr": 5e-4}}
    sets = parse_set_overrides(["train.lr=1e-5", "lora.target=[q_proj,v_proj]"])
    cfg = build_config(FinetuneConfig, recipe, flags, sets)
    assert cfg.train.lr == 1e-5  # --set beats the flag and the recipe
    assert cfg.train.epochs == 2.0  # recipe beats the default
    assert cfg.lora.r == 4
    assert cfg.lora.target == ["q_proj", "v_proj"]
    assert cfg.train.batch_size == FinetuneConfig().train.batch_size  # untouched default


def test_a_layer_setting_one_key_keeps_the_jobs_other_section_defaults():
    from llmkit.config.pretrain import PretrainConfig

    default = build_config(PretrainConfig)
    changed = build_config(PretrainConfig, {"train": {"epochs": 2}})
    assert changed.train.epochs == 2
    # lr 0: the architecture picks it (pretraining.presets.DEFAULT_LR)
    assert (changed.train.lr, changed.train.batch_size) == (default.train.lr, default.train.batch_size) == (0.0, 32)


def test_set_values_are_typed():
    cfg = build_config(FinetuneConfig, parse_set_overrides(
        ["train.lr=3e-4", "data.packing=false", "train.epochs=1", "lora.target=all-linear"]))
    assert cfg.train.lr == pytest.approx(3e-4)  # YAML 1.1 reads 3e-4 as a string; it is converted
    assert cfg.data.packing is False
    assert isinstance(cfg.train.epochs, float)
    assert cfg.lora.target == ["all-linear"]


def test_unknown_key_names_it_and_the_valid_keys():
    with pytest.raises(LlmkitError) as err:
        build_config(FinetuneConfig, {"train": {"lrr": 1}}, source="recipe x.yaml")
    message = str(err.value)
    assert "recipe x.yaml" in message and "'train.lrr'" in message and "train.lr" in message


def test_wrong_type_names_key_and_expected_type():
    with pytest.raises(LlmkitError, match=r"'train\.batch_size' must be an integer, got 'big'"):
        build_config(FinetuneConfig, {"train": {"batch_size": "big"}})
    with pytest.raises(LlmkitError, match="'model.dtype' must be one of auto"):
        build_config(FinetuneConfig, {"model": {"dtype": "int3"}})
    with pytest.raises(LlmkitError, match="'train' must be a mapping"):
        build_config(FinetuneConfig, {"train": 3})


def test_bad_set_syntax():
    with pytest.raises(LlmkitError, match="KEY=VALUE"):
        parse_set_overrides(["train.lr"])


def test_every_shipped_recipe_builds():
    from llmkit.jobs import JOBS

    recipes = all_recipes()
    assert {"finetune/llama-lora", "pretrain/llama-tiny", "train/lenet5-digits"} <= {r.key for r in recipes}
    for recipe in recipes:
        assert recipe.description, f"{recipe.path} needs a first comment line"
        build_config(JOBS[recipe.job].config_class(), recipe.load(), source=str(recipe.path))


def test_every_method_has_a_llama_and_a_glm_recipe_that_selects_it():
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.tuning.methods import METHODS

    for family in ("llama", "glm"):
        for method in METHODS:
            recipe = resolve(f"{family}-{method}", job="finetune")
            assert f"--recipe {family}-{method}" in recipe.path.read_text()  # the header gives the command
            assert build_config(FinetuneConfig, recipe.load()).method == method


def test_a_method_trains_at_its_own_learning_rate_unless_a_recipe_or_flag_sets_one(tiny_base, tmp_path):
    import json

    from llmkit.tuning.methods import METHODS
    from llmkit.workflows import finetune

    for family in ("llama", "glm"):  # the model-family recipes leave the rate to the method
        for name, method in METHODS.items():
            cfg = build_config(FinetuneConfig, resolve(f"{family}-{name}", job="finetune").load())
            assert method.with_lr(cfg).train.lr == method.lr
    assert METHODS["prompt"].lr > 10 * METHODS["lora"].lr  # soft prompts want far larger steps than weights
    chosen = build_config(FinetuneConfig, {"method": "prompt", "train": {"lr": 1e-4}})
    assert METHODS["prompt"].with_lr(chosen).train.lr == 1e-4

    output = tmp_path / "out"  # the run record says which rate was used
    finetune.run(build_config(FinetuneConfig, {
        "method": "prompt", "model": {"path": str(tiny_base)}, "output": str(output), "eval": {"limit": 0},
        "data": {"limit": 4, "max_length": 32}, "train": {"max_steps": 1, "batch_size": 2}}))
    assert json.loads((output / "llmkit_run.json").read_text())["config"]["train"]["lr"] == METHODS["prompt"].lr


def test_resolve_by_name_job_name_and_path(tmp_path):
    assert resolve("llama-tiny").job == "pretrain"
    assert resolve("finetune/llama-lora").name == "llama-lora"
    custom = tmp_path / "mine.yaml"
    custom.write_text("train:\n  lr: 0.1\n")
    assert resolve(str(custom), job="finetune").load() == {"train": {"lr": 0.1}}
    with pytest.raises(LlmkitError, match="available: .*llama-lora"):
        resolve("nope", job="finetune")


def test_bad_yaml_reports_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: [1,\n")
    with pytest.raises(LlmkitError, match="not valid YAML at line"):
        resolve(str(bad)).load()



def test_every_jobs_defaults_lie_in_their_declared_ranges():
    from llmkit.jobs import JOBS

    for job in JOBS.values():
        if job.name != "merge":  # its config has no defaults: it holds the folders `llmkit merge` was given
            build_config(job.config_class(), {})


def test_a_value_out_of_range_names_key_value_and_what_is_allowed():
    with pytest.raises(LlmkitError, match=r"'lora.dropout' must be at least 0 and less than 1; got 1.5"):
        build_config(FinetuneConfig, {"lora": {"dropout": 1.5}}, source="--set")
    with pytest.raises(LlmkitError, match=r"'train.lr' must be a finite number; got inf"):
        build_config(FinetuneConfig, {"train": {"lr": float("inf")}}, source="--set")
    # lr 0 means "the architecture's default" in pretraining and "the method's default" in fine-tuning
    assert build_config(PretrainConfig, {"train": {"lr": 0}}).train.lr == 0
    assert build_config(FinetuneConfig, {"train": {"lr": 0}}).train.lr == 0
    with pytest.raises(LlmkitError, match="'train.lr' must be at least 0"):
        build_config(FinetuneConfig, {"train": {"lr": -1e-4}})
