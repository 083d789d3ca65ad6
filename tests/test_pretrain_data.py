"""Pretraining data: tokenizers (Chinese round trip, WordPiece's one token per CJK character), packing
errors, MLM masking rates, presets, the MFU formula. No training here."""

import pytest
import torch

from llmkit.config import build_config
from llmkit.config.pretrain import PretrainConfig
from llmkit.errors import LlmkitError

MIXED = ["北京是中国的首都。Beijing is the capital of China, 1949年。", "def add(a, b):\n    return a + b\n",
         "三百四十七写成阿拉伯数字是347。Seven words, 七个字。"]


def test_bpe_tokenizer_round_trips_chinese_and_reloads_with_auto_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    from llmkit.data.tokenizer import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(MIXED * 20, vocab_size=400)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    for text in MIXED + ["没见过的字：龘靐 and unseen words"]:  # unseen characters fall back to bytes
        ids = loaded(text)["input_ids"]
        assert ids == tokenizer(text)["input_ids"]
        assert loaded.decode(ids) == text


def test_wordpiece_splits_cjk_one_character_per_token_and_reloads(tmp_path):
    from transformers import AutoTokenizer

    from llmkit.data.wordpiece import train_wordpiece_tokenizer

    tokenizer = train_wordpiece_tokenizer(MIXED * 20, vocab_size=400)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "北京是中国的首都。Beijing is the capital"
    encoded = loaded(text)["input_ids"]
    tokens = loaded.convert_ids_to_tokens(encoded)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert tokens[1:10] == list("北京是中国的首都。")  # each Chinese character (and the full stop) alone
    # Decoding puts spaces between the characters, as bert-base-chinese's does; nothing else changes.
    assert loaded.decode(encoded, skip_special_tokens=True).replace(" ", "") == text.replace(" ", "")
    assert loaded.mask_token == "[MASK]" and loaded.mask_token_id is not None


def test_a_corpus_shorter_than_two_blocks_is_an_error_that_gives_its_size(tmp_path):
    from llmkit.workflows import pretrain

    corpus = tmp_path / "small.txt"
    corpus.write_text("only a few words here")
    cfg = build_config(PretrainConfig, {"corpus": {"path": [str(corpus)], "block_size": 64},
                                        "tokenizer": {"vocab_size": 300}, "output": str(tmp_path / "out")})
    with pytest.raises(LlmkitError, match=r"the corpus has \d+ tokens, fewer than two blocks of 64"):
        pretrain.run(cfg)
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_mlm_masking_rates_are_15_percent_then_80_10_10_and_depend_only_on_seed_and_step():
    from llmkit.data.packing import IGNORE_INDEX
    from llmkit.pretraining.masking import mask_tokens

    ids = torch.randint(10, 1000, (64, 512))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, -50:] = False  # padding / special tokens
    corrupted, labels = mask_tokens(ids, maskable, mask_id=4, vocab_size=1000, seed=1, step=7)
    chosen = labels != IGNORE_INDEX
    assert not chosen[:, -50:].any()
    assert torch.equal(labels[chosen], ids[chosen]) and torch.equal(corrupted[~chosen], ids[~chosen])
    rate = chosen.sum().item() / maskable.sum().item()
    assert abs(rate - 0.15) < 0.01
    as_mask = (corrupted[chosen] == 4).float().mean().item()
    kept = (corrupted[chosen] == ids[chosen]).float().mean().item()  # includes the rare random == original
    assert abs(as_mask - 0.8) < 0.02 and abs(kept - 0.1) < 0.02
    assert abs((1 - as_mask - kept) - 0.1) < 0.02  # random replacements
    again, _ = mask_tokens(ids, maskable, 4, 1000, seed=1, step=7)
    other, _ = mask_tokens(ids, maskable, 4, 1000, seed=1, step=8)
    assert torch.equal(again, corrupted) and not torch.equal(other, corrupted)


def test_presets_fill_only_the_keys_left_unset():
    from llmkit.pretraining.presets import apply_preset

    cfg = apply_preset(build_config(PretrainConfig, {"arch": {"type": "gpt2", "preset": "gpt2-124m", "layers": 6}}))
    assert (cfg.arch.hidden_size, cfg.arch.layers, cfg.arch.heads, cfg.arch.intermediate_size) == (768, 6, 12, 3072)
    assert (cfg.corpus.block_size, cfg.tokenizer.vocab_size) == (1024, 50257)
    assert cfg.train.lr == 3e-3  # the architecture's default learning rate
    bert = apply_preset(build_config(PretrainConfig, {"arch": {"type": "bert"}}))
    assert bert.train.lr == 1e-3
    explicit = build_config(PretrainConfig, {"arch": {"type": "bert"}, "train": {"lr": 5e-4}})
    assert apply_preset(explicit).train.lr == 5e-4
    with pytest.raises(LlmkitError, match="unknown preset 'huge'; choose one of tiny, small, gpt2-124m"):
        apply_preset(build_config(PretrainConfig, {"arch": {"preset": "huge"}}))
    with pytest.raises(LlmkitError, match="not divisible"):
        apply_preset(build_config(PretrainConfig, {"arch": {"hidden_size": 100, "heads": 3}}))


def test_gpt2_124m_flops_per_token_is_nanogpts_estimate():
    from llmkit.pretraining.architectures import Vocabulary, build_model
    from llmkit.pretraining.presets import apply_preset
    from llmkit.pretraining.throughput import mfu, model_flops_per_token

    cfg = apply_preset(build_config(PretrainConfig, {"arch": {"type": "gpt2", "preset": "gpt2-124m"}}))
    model = build_model(cfg.arch, Vocabulary(50257, 50256, [50256]), seed=0)
    assert model.config.vocab_size == 50304  # padded as nanoGPT does
    n = sum(p.numel() for p in model.parameters()) - 1024 * 768  # nanoGPT leaves out the position embeddings
    assert n == 123_689_472
    assert model_flops_per_token(model, 1024) == 6 * n + 12 * 12 * 12 * 64 * 1024
    # nanoGPT's own figure for this model: ~0.86 GFLOPs per token; 360k tokens/s on a 989 TFLOP/s chip is ~31%.
    assert round(mfu(360_000, model_flops_per_token(model, 1024), 989.0), 3) == 0.311
    assert mfu(360_000, 1, None) is None


def test_corpus_reads_text_and_jsonl_files_the_same_streamed_or_not(tmp_path):
    import json

    from llmkit.data.corpus import load_corpus_texts

    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in MIXED + [" "]))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "b.txt").write_text("第一行\nsecond line\n")
    loaded = load_corpus_texts([str(tmp_path)], "text")
    assert sorted(loaded) == sorted(MIXED + ["第一行\nsecond line\n"])  # the blank row is skipped
    assert load_corpus_texts([str(tmp_path)], "text", streaming=True) == loaded
    assert load_corpus_texts([str(tmp_path)], "text", streaming=True, max_documents=2) == loaded[:2]
    with pytest.raises(LlmkitError, match="no column 'body'; found text"):
        load_corpus_texts([str(tmp_path / "a.jsonl")], "body", streaming=True)
