"""Every method x every family: trains (loss falls), saves only what it trained, reloads to the same logits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import FAMILIES

from llmkit.config import build_config, deep_merge
from llmkit.config.finetune import FinetuneConfig
from llmkit.errors import LlmkitError
from llmkit.models.finetuned import load_finetuned
from llmkit.tuning.methods import METHODS
from llmkit.workflows import finetune

# Virtual-token methods move a few embeddings from a random start: they need a larger step.
LEARNING_RATES = {"full": 1e-3, "prefix": 1e-1, "prompt": 1e-1, "ptuning": 1e-1, "ptuning-v2": 1e-1}
WEIGHT_FILES = {"adapter": "adapter_model.safetensors", "model": "model.safetensors",
                "trained": "trained_weights.safetensors", "bottleneck": "bottleneck_adapter.safetensors"}
SENTENCES = ["The movie was not good.", "问：三的中文是什么？答：三"]


def run_finetune(base: Path, method: str, output: Path, *, task: str = "sft", steps: int = 12,
                 overrides: dict | None = None) -> dict:
    layers = {"method": method, "task": task, "model": {"path": str(base)}, "output": str(output),
              "data": {"limit": 16, "max_length": 64}, "eval": {"limit": 0},
              "train": {"max_steps": steps, "batch_size": 8, "lr": LEARNING_RATES.get(method, 1e-2),
                        "logging_steps": 1, "warmup_steps": 0.0, "scheduler": "constant"}}
    return finetune.run(build_config(FinetuneConfig, deep_merge(layers, overrides or {})))


def losses(output: Path) -> list[float]:
    history = json.loads((output / "loss_history.json").read_text())
    return [entry["loss"] for entry in history if "loss" in entry]


def logits(model, tokenizer) -> torch.Tensor:
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


def saved_numel(output: Path) -> int:
    from safetensors.torch import load_file

    return sum(t.numel() for f in output.glob("*.safetensors") for t in load_file(f).values())


def check_trains_saves_and_reloads(result: dict, method: str) -> None:
    output = result["output"]
    curve = losses(output)
    assert sum(curve[-3:]) / 3 < sum(curve[:3]) / 3, curve

    saves = json.loads((output / "llmkit_finetune.json").read_text())["format"]
    assert saves == METHODS[method].save_format or (method == "ptuning-v2" and saves == "trained")  # ChatGLM's own
    assert [p.name for p in output.glob("*.safetensors")] == [WEIGHT_FILES[saves]]
    trainable = result["metrics"]["trainable_parameters"]
    if method == "adalora":
        assert saved_numel(output) < trainable  # ranks were pruned, and peft saves the pruned matrices
    elif method in ("prefix", "ptuning") and saves == "adapter":
        # peft saves the virtual tokens the (MLP / LSTM) encoder produces, not the encoder itself.
        assert saved_numel(output) < trainable
    else:
        assert saved_numel(output) == trainable

    reloaded, tokenizer = load_finetuned(output)
    # P-tuning's saved prompts and AdaLoRA's rank scaling are recomputed in another order: float32 noise.
    torch.testing.assert_close(logits(reloaded, tokenizer), logits(result["model"], tokenizer), atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", list(METHODS))
def test_method_trains_saves_only_what_it_trains_and_reloads(family_base, tmp_path, family, method):
    result = run_finetune(family_base(family), method, tmp_path / "out")
    check_trains_saves_and_reloads(result, method)


@pytest.mark.parametrize("method", ["prefix", "prompt", "ptuning", "ptuning-v2"])
def test_prompt_learning_generation_matches_a_full_forward(family_base, tmp_path, method):
    """Each step of cached generation scores the next token as a full forward over the text so far does."""
    result = run_finetune(family_base("llama"), method, tmp_path / "out", steps=2)
    model, tokenizer = load_finetuned(result["output"])
    with torch.no_grad():  # a large prompt decides the logits, so one applied wrongly shows
        for param in model.prompt_encoder.parameters():
            param.mul_(30)
    model.eval()
    for question in ("How is 7 spelled in English?", "星期三之后是哪一天？"):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)["input_ids"]
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=4,
                                 min_new_tokens=4, do_sample=False, output_logits=True, return_dict_in_generate=True)
            full = model(input_ids=out.sequences, attention_mask=torch.ones_like(out.sequences)).logits[0]
        virtual = full.shape[0] - out.sequences.shape[1]  # prompt tuning and P-tuning return logits for them
        for step, step_logits in enumerate(out.logits):
            torch.testing.assert_close(step_logits[0], full[virtual + ids.shape[1] - 1 + step], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("method", ["prefix", "prompt", "ptuning", "ptuning-v2"])
def test_load_finetuned_gives_the_runs_own_answers_and_plain_peft_does_not(family_base, tmp_path, method):
    """README and the model card send prompt-learning adapters to `load_finetuned`: plain peft 0.21 on
    transformers 5 generates with the prompt re-injected at every step (the cache arrives as `cache`, peft
    looks for `past_key_values`; prefixes passed under the old name are dropped when both are set). This shows
    both sides, so the advice goes when peft is fixed."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from llmkit.eval.answer_scoring import score_exact_match

    base = family_base("llama")
    result = run_finetune(base, method, tmp_path / "out", steps=2, overrides={"eval": {"limit": 8}})
    saved = [json.loads(line) for line in (result["output"] / "predictions.jsonl").read_text().splitlines()]
    chats = [[{"role": "user", "content": p["question"]}, {"role": "assistant", "content": p["reference"]}]
             for p in saved]
    model, tokenizer = load_finetuned(result["output"])
    _, items = score_exact_match(model, tokenizer, chats, max_new_tokens=16, batch_size=8, desc="reloaded")
    assert [i.prediction for i in items] == [p["prediction"] for p in saved]

    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(result["output"]))
    ours = model
    for peft_model in (ours, plain):  # a large prompt decides the logits, so one applied wrongly shows
        with torch.no_grad():
            for param in peft_model.prompt_encoder.parameters():
                param.mul_(30)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "How is 7 spelled in English?"}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]

    def step_logits(peft_model) -> torch.Tensor:
        with torch.no_grad():
            out = peft_model.eval().generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=4,
                                             min_new_tokens=4, do_sample=False, output_logits=True,
                                             return_dict_in_generate=True)
        return torch.stack(out.logits)

    # llmkit's generation equals a full forward pass at every step (the test above); plain peft's does not.
    assert not torch.allclose(step_logits(plain), step_logits(ours), atol=1e-2), (
        "plain peft now generates prompt-learning adapters correctly: drop the load_finetuned advice")


def write_polarity_data(folder: Path) -> tuple[Path, Path]:
    """Sentences whose label is the polarity of their first word: a tiny random encoder pools the first
    position, so even it can learn this in a few steps."""
    rows = [{"text": f"{adj} {noun}, I thought.", "label": label}
            for label, adjectives in (("positive", ["good", "great", "nice", "fine"]),
                                      ("negative", ["bad", "awful", "poor", "dull"]))
            for adj in adjectives for noun in ("movie", "meal")]
    folder.mkdir()
    for name in ("train", "test"):
        (folder / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return folder / "train.jsonl", folder / "test.jsonl"


@pytest.fixture(scope="module")
def classifier_base(family_base, minilm_path):
    """BERT: the real all-MiniLM-L6-v2 (prompt methods need pretrained features to steer); LLaMA: tiny random."""
    return lambda family: minilm_path if family == "bert" else family_base("llama", "classify")


@pytest.mark.parametrize("family", ["bert", "llama"])
@pytest.mark.parametrize("method, lr", [("lora", 3e-3), ("ptuning-v2", 1e-2), ("prompt", 1e-1)])
def test_classification(classifier_base, tmp_path, family, method, lr):
    train, test = write_polarity_data(tmp_path / "data")
    result = run_finetune(classifier_base(family), method, tmp_path / "out", task="classify", steps=16,
                          overrides={"data": {"path": str(train), "eval_path": str(test)},
                                     "eval": {"limit": 16}, "train": {"lr": lr}})
    check_trains_saves_and_reloads(result, method)
    assert 0 <= result["metrics"]["accuracy_after"] <= 100
    predictions = (result["output"] / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == 16 and json.loads(predictions[0])["prediction"] in ("negative", "positive")
    manifest = json.loads((result["output"] / "llmkit_finetune.json").read_text())
    assert manifest["labels"] == ["negative", "positive"] and manifest["task"] == "classify"


def test_same_seed_same_classifier(classifier_base, tmp_path):
    """The new head initialises as the model loads: two runs with one seed must train the same weights."""
    from safetensors.torch import load_file

    train, test = write_polarity_data(tmp_path / "data")
    saved = []
    for run in ("a", "b"):
        torch.manual_seed(ord(run))  # whatever the process did before must not matter
        result = run_finetune(classifier_base("bert"), "prompt", tmp_path / run, task="classify", steps=2,
                              overrides={"data": {"path": str(train), "eval_path": str(test)},
                                         "eval": {"limit": 0}})
        saved.append(load_file(result["output"] / "adapter_model.safetensors"))
    assert any("classifier" in name for name in saved[0])  # the head is saved with the prompt
    for name, tensor in saved[0].items():
        torch.testing.assert_close(saved[1][name], tensor, atol=0, rtol=0)


def test_builtin_sentiment_task_holds_out_its_adjectives():
    from llmkit.data.demo_sentiment import demo_sentiment_split

    train, test = demo_sentiment_split("train", 400), demo_sentiment_split("test", 400)
    train_words = {w for e in train for w in e["text"].rstrip(".!").split()}
    test_adjectives = {"excellent", "wonderful", "disappointing", "dull"} & {w for e in test for w in e["text"].split()}
    assert test_adjectives and not test_adjectives & train_words
    assert sum(e["label"] == "positive" for e in train) == 200  # balanced
    assert any(" not " in e["text"] and e["label"] == "negative" for e in train)


@pytest.mark.parametrize("family", ["bert", "llama"])
def test_prefix_classifier_ignores_padding(classifier_base, family):
    """The prefix is attended to, the padding is not: a sentence scores the same alone and padded."""
    from peft import PrefixTuningConfig, TaskType
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from llmkit.tuning.prefix_classification import PrefixSequenceClassifier

    path = classifier_base(family)
    base = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="right" if family == "bert" else "left")
    torch.manual_seed(0)
    model = PrefixSequenceClassifier(base, PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=4,
                                                              prefix_projection=False)).eval()
    short, long = "The movie was fine.", "The movie was fine, and the meal after it was even better."
    with torch.no_grad():
        alone = model(**tokenizer([short], return_tensors="pt")).logits
        padded = model(**tokenizer([short, long], padding=True, return_tensors="pt")).logits
        without_prefix = base(**tokenizer([short], return_tensors="pt")).logits
    torch.testing.assert_close(padded[:1], alone, atol=1e-5, rtol=0)
    assert not torch.allclose(alone, without_prefix)  # the prefix does take part


@pytest.mark.parametrize("method", ["prefix", "ptuning-v2", "prompt", "ptuning"])
def test_virtual_token_methods_train_on_a_base_without_dropout(classifier_base, method):
    """Dropout in the frozen base drowned the virtual tokens' gradient (MiniLM stayed near chance): in train mode the
    model must be deterministic."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from llmkit.tuning.context import BuildContext

    path = classifier_base("bert")
    base = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    assert any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in base.modules())  # the fixture has dropout
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = METHODS[method].build(base, FinetuneConfig(), BuildContext("classify", path, 1, None)).train()
    batch = tokenizer(["The movie was not good.", "What a lovely meal!"], padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).logits, model(**batch).logits, atol=0, rtol=0)


def test_adalora_reallocates_ranks_and_reloads_with_a_loss(family_base, tmp_path, tiny_tokenizer):
    overrides = {"adalora": {"init_r": 6, "target_r": 2, "delta_t": 1, "tinit": 0.1, "tfinal": 0.2}}
    result = run_finetune(family_base("llama"), "adalora", tmp_path / "out", steps=30, overrides=overrides)
    record = json.loads((result["output"] / "llmkit_run.json").read_text())
    ranks = record["adalora_final_ranks"]
    assert len(ranks) == 2 * 7  # 2 layers x the 7 LLaMA projections
    assert set(ranks.values()) != {6}, "every module kept init_r: update_and_allocate never ran"
    assert sum(ranks.values()) <= 2 * len(ranks)  # the final budget is target_r per module on average
    assert len(set(ranks.values())) > 1  # the budget moved between modules

    reloaded, tokenizer = load_finetuned(result["output"])
    ids = torch.tensor([tokenizer(SENTENCES[1])["input_ids"]])
    with torch.no_grad():
        loss = reloaded(input_ids=ids, labels=ids).loss
    assert torch.isfinite(loss)


def test_target_override_and_all_linear(family_base, tmp_path):
    result = run_finetune(family_base("llama"), "lora", tmp_path / "named", steps=2,
                          overrides={"lora": {"target": ["q_proj", "v_proj"]}})
    adapter_config = json.loads((result["output"] / "adapter_config.json").read_text())
    assert set(adapter_config["target_modules"]) == {"q_proj", "v_proj"}
    result = run_finetune(family_base("gpt2"), "lora", tmp_path / "all", steps=2,
                          overrides={"lora": {"target": ["all-linear"]}})
    adapter_config = json.loads((result["output"] / "adapter_config.json").read_text())
    assert {name.split(".")[-1] for name in adapter_config["target_modules"]} == {"c_attn", "c_proj", "c_fc"}


@pytest.mark.parametrize("method", ["prefix", "ptuning-v2"])
def test_prefix_methods_refuse_gradient_checkpointing(tmp_path, method):
    with pytest.raises(LlmkitError, match="gradient checkpointing"):
        run_finetune(tmp_path / "no-model-needed", method, tmp_path / "out",
                     overrides={"train": {"gradient_checkpointing": True}})


@pytest.mark.parametrize("method", ["lora", "prompt"])
def test_gradient_checkpointing_trains_other_methods(family_base, tmp_path, method):
    result = run_finetune(family_base("llama"), method, tmp_path / "out",
                          overrides={"train": {"gradient_checkpointing": True}})
    curve = losses(result["output"])
    assert sum(curve[-3:]) < sum(curve[:3])


def test_merge_where_defined_and_a_clear_error_where_not(family_base, tmp_path):
    from llmkit.config.merge import MergeConfig
    from llmkit.workflows import merge

    def merge_adapter(adapter, output):
        return merge.run(MergeConfig(adapter=adapter, output=str(output)))["output"]

    for method in ("freeze", "dora"):
        result = run_finetune(family_base("llama"), method, tmp_path / method, steps=3)
        merged_dir = merge_adapter(str(result["output"]), tmp_path / f"{method}-merged")
        from transformers import AutoModelForCausalLM

        merged = AutoModelForCausalLM.from_pretrained(merged_dir)
        torch.testing.assert_close(logits(merged, result["tokenizer"]), logits(result["model"], result["tokenizer"]),
                                   atol=1e-5, rtol=0)
    for method, reason in (("adapter", "non-linear"), ("ptuning", "virtual tokens"), ("full", "already a whole")):
        result = run_finetune(family_base("llama"), method, tmp_path / method, steps=1)
        with pytest.raises(LlmkitError, match=reason):
            merge_adapter(str(result["output"]), tmp_path / f"{method}-merged")
