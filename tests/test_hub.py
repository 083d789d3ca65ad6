"""`llmkit push`, `--push-to-hub` and Hub ids as --model/--adapter, against a local stand-in for the Hub."""

from __future__ import annotations

import json
import sys

import pytest
import torch
import yaml
from hub_server import HubServer
from test_methods import logits, run_finetune

from llmkit.errors import LlmkitError
from llmkit.hub.files import select_files
from llmkit.hub.model_card import model_card
from llmkit.hub.push import HubTarget
from llmkit.hub.resolve import resolve_source

TOKEN = "test-write-token"
LEAKED = "hf_" + "A1b2C3d4E5" * 4  # a token-shaped string a user left in a notes file


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A running stand-in Hub, a token, and huggingface_hub pointed at both with its cache under tmp_path.

    huggingface_hub reads its endpoint, cache and offline switch once, at import: the module constants are
    set here (llmkit itself passes the endpoint explicitly and reads HF_ENDPOINT at call time)."""
    from huggingface_hub import constants, hf_api

    with HubServer() as server:
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        # peft's own from_pretrained(hub id) goes through these module-level defaults
        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            server.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(hf_api.api, "endpoint", server.url)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield server


@pytest.fixture(scope="module")
def lora_output(tmp_path_factory, tiny_base):
    """A LoRA fine-tune of the tiny base (a few steps), and its logits on fixed sentences."""
    out = tmp_path_factory.mktemp("lora") / "run"
    result = run_finetune(tiny_base, "lora", out, steps=3)
    return out, logits(result["model"], result["tokenizer"])


def _card_metadata(card: str) -> dict:
    return yaml.safe_load(card.split("---")[1])


def test_push_uploads_the_adapter_and_its_card_never_secrets_and_it_loads_back(hub, lora_output, tiny_base, tmp_path):
    import shutil

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmkit.models.finetuned import load_finetuned

    out, expected = lora_output
    folder = tmp_path / "upload"
    shutil.copytree(out, folder)
    (folder / ".env").write_text(f"HF_TOKEN={LEAKED}\n")
    (folder / "notes.txt").write_text(f"my token is {LEAKED}\n")
    (folder / "id_rsa").write_text("not really a key")
    checkpoint = folder / "checkpoints" / "checkpoint-3"
    checkpoint.mkdir(parents=True)
    (checkpoint / "optimizer.pt").write_bytes(b"\0" * 16)
    (checkpoint / "adapter_model.safetensors").write_bytes((out / "adapter_model.safetensors").read_bytes())

    result = HubTarget.from_environment("alice/tiny-lora").push(folder)

    arrived = hub.files("alice/tiny-lora")
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "llmkit_run.json",
            "llmkit_finetune.json", "tokenizer.json", "loss_curve.png"} <= set(arrived)
    assert not {".env", "notes.txt", "id_rsa"} & set(arrived)
    assert not any(name.startswith("checkpoints/") for name in arrived)
    assert not any(LEAKED.encode() in content or TOKEN.encode() in content for content in arrived.values())
    assert result.skipped[".env"].startswith("looks like a secret")
    assert result.skipped["notes.txt"] == "looks like a secret (its content)"
    assert "optimizer" in result.skipped["checkpoints/checkpoint-3/optimizer.pt"]
    assert set(hub.tokens) == {f"Bearer {TOKEN}"}  # every write carried the token

    card = arrived["README.md"].decode()
    assert hub.cards == [card]  # the card's metadata went through the Hub's validation
    meta = _card_metadata(card)
    assert meta["license"] == "apache-2.0" and meta["library_name"] == "peft"
    assert {"llmkit", "finetune", "lora", "peft"} <= set(meta["tags"])
    assert "base_model" not in meta  # a local base path is not a Hub id: the card names it in the text only
    record = json.loads((out / "llmkit_run.json").read_text())
    assert f"| train_loss | {record['metrics']['train_loss']} |" in card
    assert str(tiny_base) in card and 'PeftModel.from_pretrained(base, "alice/tiny-lora")' in card
    assert "llmkit's built-in bilingual demo tasks" in card and "batch size per device / global: 8 / 8" in card

    # peft's own from_pretrained, from that endpoint, gives the logits the run ended with
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    loaded = PeftModel.from_pretrained(base, "alice/tiny-lora")
    torch.testing.assert_close(logits(loaded, AutoTokenizer.from_pretrained(tiny_base)), expected)
    # and so does llmkit's loader given the Hub id
    model, tokenizer = load_finetuned("alice/tiny-lora")
    torch.testing.assert_close(logits(model, tokenizer), expected)


def test_a_hub_id_loads_offline_from_the_cache(hub, lora_output, tiny_base, monkeypatch):
    from huggingface_hub import constants

    from llmkit.inference.chat_session import ChatSession
    from llmkit.models.finetuned import load_finetuned

    out, expected = lora_output
    HubTarget.from_environment("alice/cached").push(out)
    online = resolve_source("alice/cached")  # fills the cache
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    hub.repos.clear()  # the Hub forgets it: only the cache can answer now
    assert resolve_source("alice/cached") == online
    model, tokenizer = load_finetuned("alice/cached")
    torch.testing.assert_close(logits(model, tokenizer), expected)
    assert ChatSession.load("alice/cached", max_new_tokens=4).ask("hi", echo=False) is not None
    # `llmkit eval` takes the id as --model (a fine-tuning output) and as --adapter on its base
    from llmkit.config.eval import EvalModelSection
    from llmkit.workflows.evaluate import load_eval_model

    for section in (EvalModelSection(path="alice/cached"),
                    EvalModelSection(path=str(tiny_base), adapter="alice/cached")):
        model, tokenizer, _ = load_eval_model(section)
        torch.testing.assert_close(logits(model, tokenizer), expected)
    with pytest.raises(LlmkitError, match="neither a local folder nor in the local Hub cache"):
        resolve_source("alice/never-downloaded")


def test_an_unknown_hub_id_online_is_a_clear_error(hub):
    from llmkit.models.loading import load_config

    with pytest.raises(LlmkitError, match="neither a local folder nor a repo on http://127.0.0.1"):
        load_config("alice/missing")
    with pytest.raises(LlmkitError, match="does not exist"):
        resolve_source("./no/such/folder")


def test_no_token_is_a_clear_one_line_error(hub, lora_output, monkeypatch, capsys, tmp_path):
    from huggingface_hub import constants

    from llmkit.cli import main

    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(sys, "argv", ["llmkit", "push", str(lora_output[0]), "--repo", "alice/x"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no Hugging Face token: set HF_TOKEN") and len(err.splitlines()) == 1
    assert hub.repos == {}  # nothing was attempted


def test_a_server_error_is_reported_and_nothing_is_pushed(hub, lora_output, monkeypatch, capsys):
    from llmkit.cli import main

    hub.fail_commit = 500
    monkeypatch.setattr(sys, "argv", ["llmkit", "push", str(lora_output[0]), "--repo", "alice/broken",
                                      "--endpoint", hub.url])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    assert exit_.value.code == 2
    assert "push to alice/broken" in captured.err and "the repo exists but holds nothing from this push" in captured.err
    assert "pushed" not in captured.out
    assert hub.files("alice/broken") == {}


def test_an_unreachable_endpoint_is_a_clear_error(lora_output, monkeypatch):
    import socket

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(LlmkitError, match="failed, nothing was created"):
        HubTarget.from_environment("alice/x", endpoint=dead).push(lora_output[0])


def test_push_to_a_revision_and_private(hub, lora_output):
    target = HubTarget.from_environment("alice/branchy", private=True, revision="v1")
    result = target.push(lora_output[0])
    assert hub.repos["alice/branchy"].private
    assert "README.md" in hub.files("alice/branchy", "v1") and hub.files("alice/branchy", "main") == {}
    assert result.url.startswith(f"{hub.url}/alice/branchy/commit/")


def test_push_to_hub_after_training(hub, tmp_path, monkeypatch):
    from llmkit.cli import main

    out = tmp_path / "mlp"
    monkeypatch.setattr(sys, "argv", ["llmkit", "train", "--model", "mlp", "--max-steps", "2", "--output", str(out),
                                      "--push-to-hub", "alice/mlp-digits"])
    main()
    arrived = hub.files("alice/mlp-digits")
    assert {"model.safetensors", "config.json", "llmkit_run.json", "confusion_matrix.png"} <= set(arrived)
    card = arrived["README.md"].decode()
    assert "import llmkit" in card and 'AutoModelForImageClassification.from_pretrained("alice/mlp-digits")' in card
    assert _card_metadata(card)["pipeline_tag"] == "image-classification" and "`llmkit train`" in card


def test_push_to_hub_checks_the_token_before_training(monkeypatch, tmp_path, capsys):
    from huggingface_hub import constants

    from llmkit.cli import main

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(sys, "argv", ["llmkit", "train", "--model", "mlp", "--output", str(tmp_path / "o"),
                                      "--push-to-hub", "alice/x"])
    with pytest.raises(SystemExit):
        main()
    assert "no Hugging Face token" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # no training happened


def test_file_selection(tmp_path):
    for name in ["model.safetensors", "config.json", "tokenizer.json", "special_tokens_map.json", ".env.local",
                 "server.pem", "credentials.json", "run.partial/x", "checkpoints/checkpoint-5/model.safetensors",
                 "checkpoints/checkpoint-5/optimizer.pt", "checkpoints/checkpoint-5/rng_state.pth", "keys.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "keys.txt").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    chosen = select_files(tmp_path)
    assert [p.as_posix() for p in chosen.files] == ["config.json", "model.safetensors", "special_tokens_map.json",
                                                    "tokenizer.json"]
    with_checkpoints = select_files(tmp_path, include_checkpoints=True)
    assert "checkpoints/checkpoint-5/model.safetensors" in [p.as_posix() for p in with_checkpoints.files]
    assert {"checkpoints/checkpoint-5/optimizer.pt", "checkpoints/checkpoint-5/rng_state.pth", "keys.txt",
            "server.pem", "credentials.json", ".env.local"} <= set(with_checkpoints.skipped)


def test_model_cards_say_how_to_load_each_kind(tmp_path):
    pipeline = tmp_path / "ddpm"
    pipeline.mkdir()
    (pipeline / "model_index.json").write_text(json.dumps({"_class_name": "DDPMPipeline"}))
    (pipeline / "llmkit_run.json").write_text(json.dumps({"job": "diffusion", "config": {}}))
    card = model_card(pipeline, "bob/ddpm", "mit")
    assert _card_metadata(card)["library_name"] == "diffusers"
    assert 'DiffusionPipeline.from_pretrained("bob/ddpm")' in card
    assert "`llmkit diffusion train`" in card and "diffusion" in _card_metadata(card)["tags"]

    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    (llama / "tokenizer_config.json").write_text("{}")
    (llama / "llmkit_run.json").write_text(json.dumps({"job": "pretrain", "config": {"corpus": {"path": []}},
                                                       "metrics": {"eval_loss": 2.5, "peak_memory_kind": "rss"}}))
    card = model_card(llama, "bob/tiny", "apache-2.0")
    meta = _card_metadata(card)
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-generation"
    assert "| eval_loss | 2.5 |" in card and "peak_memory_kind" not in card  # numbers only
    assert "llmkit's built-in generated corpus" in card and "import llmkit" not in card
    assert 'AutoTokenizer.from_pretrained("bob/tiny")' in card


def test_an_adapter_on_the_built_in_base_is_loaded_with_llmkit_in_its_card(tmp_path):
    from llmkit.cache import BUILTIN_BASE_NAME

    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "task_type": "CAUSAL_LM"}))
    (adapter / "llmkit_finetune.json").write_text(json.dumps({"method": "lora", "task": "sft", "format": "adapter",
                                                               "base_model": BUILTIN_BASE_NAME}))
    card = model_card(adapter, "bob/demo-lora", "apache-2.0")
    assert 'load_for_inference(None, adapter="bob/demo-lora")' in card
    assert "from_pretrained(\"llmkit-llama-tiny\")" not in card
    assert "base_model" not in _card_metadata(card)  # not a Hub id


@pytest.mark.parametrize("peft_type", ["PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING"])
def test_a_prompt_learning_adapter_is_loaded_with_llmkit_in_its_card(tmp_path, peft_type):
    adapter = tmp_path / "prompt"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": peft_type, "task_type": "CAUSAL_LM"}))
    (adapter / "llmkit_finetune.json").write_text(json.dumps({"method": "prompt", "task": "sft", "format": "adapter",
                                                               "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct"}))
    card = model_card(adapter, "bob/numerals-prompt", "apache-2.0")
    # plain peft's generate misapplies the prompt
    assert 'load_for_inference(None, adapter="bob/numerals-prompt")' in card
    assert "`past_key_values`" in card and "PeftModel.from_pretrained(base" not in card
    assert _card_metadata(card)["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_a_card_the_user_wrote_is_kept(hub, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    (tmp_path / "README.md").write_text("# my own card\n")
    HubTarget.from_environment("alice/own-card").push(tmp_path)
    assert hub.files("alice/own-card")["README.md"] == b"# my own card\n"
