"""Houlsby bottleneck adapters on tiny random LLaMA, GLM, GLM-4, GPT-2 and BERT models built in the test."""

from __future__ import annotations

import copy
import json
import warnings
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from llmkit.errors import LlmkitError
from llmkit.tuning.bottleneck import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    BottleneckAdapter,
    BottleneckConfig,
    add_bottleneck_adapters,
    bottleneck_state_dict,
    build_bottleneck,
    is_bottleneck_adapter_dir,
    load_bottleneck_adapter,
    save_bottleneck_adapter,
)

D, LAYERS, VOCAB, B, LABELS = 32, 2, 96, 8, 3  # hidden, layers, vocab, bottleneck, classes


def _decoder_kwargs() -> dict:
    return dict(vocab_size=VOCAB, hidden_size=D, intermediate_size=64, num_hidden_layers=LAYERS,
                num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64)


def _llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(**_decoder_kwargs(), pad_token_id=0, bos_token_id=1, eos_token_id=1))


def _llama_cls():
    from transformers import LlamaConfig, LlamaForSequenceClassification

    # pad_token_id is needed to find each row's last token; the inputs below never contain it.
    return LlamaForSequenceClassification(LlamaConfig(**_decoder_kwargs(), num_labels=LABELS, pad_token_id=0,
                                                      bos_token_id=1, eos_token_id=1))


def _glm():
    from transformers import GlmConfig, GlmForCausalLM

    # Glm defaults pad_token_id=151329 and head_dim=128, neither fits a tiny config.
    return GlmForCausalLM(GlmConfig(**_decoder_kwargs(), head_dim=16, pad_token_id=0, eos_token_id=1))


def _glm4():
    from transformers import Glm4Config, Glm4ForCausalLM

    return Glm4ForCausalLM(Glm4Config(**_decoder_kwargs(), head_dim=16, pad_token_id=0, eos_token_id=1))


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    # No dropout, so train-mode losses are deterministic and comparable.
    return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=D, n_layer=LAYERS, n_head=2, n_positions=64,
                                      bos_token_id=1, eos_token_id=1, resid_pdrop=0.0, embd_pdrop=0.0,
                                      attn_pdrop=0.0))


def _bert_config():
    from transformers import BertConfig

    return BertConfig(vocab_size=VOCAB, hidden_size=D, num_hidden_layers=LAYERS, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=64, num_labels=LABELS, pad_token_id=0,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _bert_cls():
    from transformers import BertForSequenceClassification

    return BertForSequenceClassification(_bert_config())


def _bert_mlm():
    from transformers import BertForMaskedLM

    return BertForMaskedLM(_bert_config())


# name -> (builder, train_modules, trainable head parameters, classification?)
FAMILIES = {
    "llama": (_llama, [], 0, False),
    "llama-cls": (_llama_cls, ["score"], D * LABELS, True),  # score: Linear(d, labels, bias=False)
    "glm": (_glm, [], 0, False),
    "glm4": (_glm4, [], 0, False),
    "gpt2": (_gpt2, [], 0, False),
    "bert-cls": (_bert_cls, ["classifier"], D * LABELS + LABELS, True),
    "bert-mlm": (_bert_mlm, [], 0, False),
}


def _build(family: str, seed: int = 0):
    torch.manual_seed(seed)
    return FAMILIES[family][0]()


def _config(family: str) -> BottleneckConfig:
    return BottleneckConfig(bottleneck_size=B, train_modules=FAMILIES[family][1])


def _batch(family: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(2, VOCAB, (2, 8), generator=g)  # ids 0/1 (pad, eos) never appear
    if FAMILIES[family][3]:
        return {"input_ids": ids, "labels": torch.tensor([0, 2])}
    return {"input_ids": ids, "labels": ids.clone()}


def _logits(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=batch["input_ids"]).logits


@pytest.mark.parametrize("family", list(FAMILIES))
def test_identity_at_init(family):
    model = _build(family).eval()
    batch = _batch(family)
    before = _logits(model, batch)
    add_bottleneck_adapters(model, _config(family))
    # `up` is exactly zero, so each adapter adds +0.0 to its projection's output: the same kernels run on
    # the same numbers and the logits are bit-identical, not merely close.
    assert torch.equal(_logits(model, batch), before)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_only_adapters_and_head_train(family):
    model = add_bottleneck_adapters(_build(family), _config(family))
    adapters = [m for m in model.modules() if isinstance(m, BottleneckAdapter)]
    assert len(adapters) == 2 * LAYERS  # attention output + FFN output of each layer
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    # Each adapter: down (d*b + b) and up (b*d + d); plus the new head where there is one.
    assert sum(trainable.values()) == 2 * LAYERS * (D * B + B + B * D + D) + FAMILIES[family][2]
    heads = tuple(FAMILIES[family][1])
    assert all(".adapter_" in n or n.startswith(heads) for n in trainable) if heads else \
        all(".adapter_" in n for n in trainable)


def test_default_targets_pick_the_right_layers():
    bert = add_bottleneck_adapters(_build("bert-cls"), BottleneckConfig(bottleneck_size=B))
    wrapped = sorted(n for n, m in bert.named_modules() if isinstance(m, BottleneckAdapter))
    # FFN output and attention output once each per layer; not the pooler, not attention.output.dense twice.
    assert wrapped == sorted(f"bert.encoder.layer.{i}.{s}" for i in range(LAYERS)
                             for s in ("attention.output.dense", "output.dense"))
    mlm = add_bottleneck_adapters(_build("bert-mlm"), BottleneckConfig(bottleneck_size=B))
    assert not isinstance(mlm.cls.predictions.transform.dense, BottleneckAdapter)

    gpt2 = add_bottleneck_adapters(_build("gpt2"), BottleneckConfig(bottleneck_size=B))
    wrapped = sorted(n for n, m in gpt2.named_modules() if isinstance(m, BottleneckAdapter))
    assert wrapped == sorted(f"transformer.h.{i}.{s}.c_proj" for i in range(LAYERS) for s in ("attn", "mlp"))
    # mlp.c_proj is Conv1D(nf=d, nx=4d) with weight (4d, d): the adapter must be d wide, not 4d.
    assert gpt2.transformer.h[0].mlp.c_proj.adapter_down.in_features == D

    for family in ("glm", "glm4"):
        glm = add_bottleneck_adapters(_build(family), BottleneckConfig(bottleneck_size=B))
        layer = glm.model.layers[0]
        assert isinstance(layer.self_attn.o_proj, BottleneckAdapter)
        assert isinstance(layer.mlp.down_proj, BottleneckAdapter)
        assert glm.bottleneck_config.target_modules == ["o_proj", "down_proj"]
        assert glm.bottleneck_config.model_type == family


@pytest.mark.parametrize("family", list(FAMILIES))
def test_training_changes_only_adapters(family):
    model = add_bottleneck_adapters(_build(family), _config(family)).train()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    params = [p for p in model.parameters() if p.requires_grad]
    start = {id(p): p.detach().clone() for p in params}
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    batch = _batch(family)
    losses = []
    for _ in range(8):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1e-3, losses
    assert all(p.grad is None for n, p in model.named_parameters() if n in frozen)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    assert all(not torch.equal(p, start[id(p)]) for p in params)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_save_load_roundtrip(family, tmp_path):
    model = _build(family)
    fresh = copy.deepcopy(model)  # the same base weights, never wrapped
    model.config._name_or_path = "tiny/base"
    add_bottleneck_adapters(model, _config(family))
    with torch.no_grad():  # non-trivial adapter and head weights, so the reload has something to prove
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    model.eval()
    save_bottleneck_adapter(model, tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CONFIG_NAME, WEIGHTS_NAME])
    assert is_bottleneck_adapter_dir(tmp_path) and not is_bottleneck_adapter_dir(tmp_path / "missing")
    saved = load_file(tmp_path / WEIGHTS_NAME)
    heads = tuple(FAMILIES[family][1])
    assert set(saved) == set(bottleneck_state_dict(model))
    assert all(".adapter_" in k or (heads and k.startswith(heads)) for k in saved)
    assert len(saved) == 4 * 2 * LAYERS + (len(dict(model.get_submodule(heads[0]).named_parameters())) if heads else 0)
    written = json.loads((tmp_path / CONFIG_NAME).read_text())
    assert written["base_model_name_or_path"] == "tiny/base"
    assert written["model_type"] == model.config.model_type and written["bottleneck_size"] == B

    loaded = load_bottleneck_adapter(fresh, tmp_path).eval()
    batch = _batch(family)
    assert torch.equal(_logits(loaded, batch), _logits(model, batch))
    assert not any(p.requires_grad for p in loaded.parameters())  # inference unless is_trainable


def test_load_is_strict_and_checks_the_base(tmp_path):
    model = add_bottleneck_adapters(_build("llama"), BottleneckConfig(bottleneck_size=B))
    save_bottleneck_adapter(model, tmp_path)
    resumed = load_bottleneck_adapter(_build("llama"), tmp_path, is_trainable=True)
    assert sum(p.numel() for p in resumed.parameters() if p.requires_grad) == 2 * LAYERS * (2 * D * B + B + D)

    with pytest.raises(LlmkitError, match="made for model type 'llama'.*'gpt2'"):
        load_bottleneck_adapter(_build("gpt2"), tmp_path)

    weights = load_file(tmp_path / WEIGHTS_NAME)
    dropped = sorted(weights)[0]
    del weights[dropped]
    save_file(weights, tmp_path / WEIGHTS_NAME)
    with pytest.raises(LlmkitError, match=r"1 missing keys") as error:
        load_bottleneck_adapter(_build("llama"), tmp_path)
    assert dropped in str(error.value)

    with pytest.raises(LlmkitError, match="not a bottleneck adapter directory"):
        load_bottleneck_adapter(_build("llama"), tmp_path / "nowhere")


def test_bad_targets_raise_helpful_errors():
    with pytest.raises(LlmkitError, match=r"\['q_projection'\] match no module of this 'llama' model") as error:
        add_bottleneck_adapters(_build("llama"), BottleneckConfig(target_modules=["q_projection"]))
    assert "o_proj" in str(error.value)  # shows the real layer names

    unknown = nn.Sequential(nn.Linear(4, 4))
    unknown.config = SimpleNamespace(model_type="mamba")
    with pytest.raises(LlmkitError, match="model type 'mamba' \\(known: bert, chatglm, glm, glm4, gpt2, llama"):
        add_bottleneck_adapters(unknown, BottleneckConfig())
    # Explicit targets make any model with Linear outputs work.
    add_bottleneck_adapters(unknown, BottleneckConfig(bottleneck_size=2, target_modules=["0"]))
    assert isinstance(unknown[0], BottleneckAdapter)

    with pytest.raises(LlmkitError, match="train_modules \\['head'\\] match no module"):
        add_bottleneck_adapters(_build("llama-cls"), BottleneckConfig(train_modules=["head"]))
    with pytest.raises(LlmkitError, match="nn.Linear or transformers Conv1D.*not LlamaRMSNorm"):
        add_bottleneck_adapters(_build("llama"), BottleneckConfig(target_modules=["input_layernorm"]))
    with pytest.raises(LlmkitError, match="already has bottleneck adapters"):
        add_bottleneck_adapters(add_bottleneck_adapters(_build("llama"), BottleneckConfig()), BottleneckConfig())


def test_config_json_roundtrip_and_validation():
    config = BottleneckConfig(bottleneck_size=16, non_linearity="relu", target_modules=[r"layer\.\d+\.output\.dense"],
                              train_modules=["classifier"], model_type="bert")
    assert BottleneckConfig.from_json(config.to_json()) == config
    with pytest.raises(LlmkitError, match="unknown bottleneck config keys \\['rank'\\]"):
        BottleneckConfig.from_dict({**config.to_dict(), "rank": 4})
    with pytest.raises(LlmkitError, match="non_linearity must be one of gelu, relu"):
        BottleneckConfig(non_linearity="tanh")
    with pytest.raises(LlmkitError, match="list of module-name patterns"):
        BottleneckConfig(target_modules="o_proj")


def test_base_weights_stay_addressable_under_the_adapter():
    model = _build("gpt2").eval()
    base_weight = model.transformer.h[0].attn.c_proj.weight
    add_bottleneck_adapters(model, BottleneckConfig(bottleneck_size=B))
    assert model.state_dict()["transformer.h.0.attn.c_proj.base.weight"] is not None
    assert model.transformer.h[0].attn.c_proj.weight is base_weight  # GPT-2's init code reads it there


@pytest.mark.parametrize("reentrant", [False, True])
def test_gradient_checkpointing_llama(reentrant):
    batch = _batch("llama")

    def grads(checkpointing: bool) -> tuple[dict[str, torch.Tensor], int]:
        model = add_bottleneck_adapters(_build("llama"), BottleneckConfig(bottleneck_size=B)).train()
        with torch.no_grad():  # make `down` receive gradients too, not only `up`
            for name, p in model.named_parameters():
                if "adapter_up.weight" in name:
                    p.normal_(std=0.02)
        if checkpointing:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # deprecated name, still the documented entry
                model.gradient_checkpointing_enable({"use_reentrant": reentrant})
        calls = []
        model.model.layers[0].self_attn.o_proj.register_forward_hook(lambda *_: calls.append(1))
        model(**batch).loss.backward()
        return {n: p.grad for n, p in model.named_parameters() if p.requires_grad}, len(calls)

    plain, plain_calls = grads(False)
    checkpointed, checkpointed_calls = grads(True)
    assert plain_calls == 1 and checkpointed_calls == 2  # the adapter was recomputed in the backward
    assert set(checkpointed) == set(plain)
    for name, grad in checkpointed.items():
        assert grad is not None and grad.abs().sum() > 0, name
        torch.testing.assert_close(grad, plain[name], rtol=1e-5, atol=1e-7)


def test_low_precision_base_gets_fp32_adapters():
    model = _build("llama").to(torch.bfloat16).eval()
    batch = _batch("llama")
    before = _logits(model, batch)
    add_bottleneck_adapters(model, BottleneckConfig(bottleneck_size=B))
    adapter = model.model.layers[0].mlp.down_proj
    # bf16 would round away most of the small early updates of a freshly initialised adapter.
    assert adapter.adapter_up.weight.dtype == torch.float32 and adapter.base.weight.dtype == torch.bfloat16
    after = _logits(model, batch)
    assert after.dtype == torch.bfloat16 and torch.equal(after, before)


def test_build_bottleneck_from_the_recipe_section(tmp_path):
    def cfg(target, train_norms=False):  # the method's recipe section
        return SimpleNamespace(bottleneck_size=B, non_linearity="relu", target=target, train_norms=train_norms)

    classify = SimpleNamespace(task="classify", base_path="some/bert", total_steps=10, family=None)
    model = build_bottleneck(_build("bert-cls"), cfg(["auto"]), classify)
    assert model.bottleneck_config.train_modules == ["classifier"]
    assert model.classifier.weight.requires_grad and not model.bert.pooler.dense.weight.requires_grad
    # train_norms (the paper's setting) adds every LayerNorm: embeddings', and two per layer.
    model = build_bottleneck(_build("bert-cls"), cfg(["auto"], train_norms=True), classify)
    norms = [n for n, m in model.named_modules() if type(m).__name__ == "LayerNorm"]
    assert len(norms) == 1 + 2 * LAYERS and all(m.weight.requires_grad for n, m in model.named_modules() if n in norms)
    save_bottleneck_adapter(model, tmp_path)
    written = json.loads((tmp_path / CONFIG_NAME).read_text())
    assert written["base_model_name_or_path"] == "some/bert" and written["non_linearity"] == "relu"

    sft = SimpleNamespace(task="sft", base_path="", total_steps=10, family=None)
    model = build_bottleneck(_build("llama"), cfg(["down_proj"]), sft)
    assert sum(isinstance(m, BottleneckAdapter) for m in model.modules()) == LAYERS
    with pytest.raises(LlmkitError, match="no classification head named score or classifier"):
        build_bottleneck(_build("llama"), cfg(["auto"]), classify)
