"""Character-level tokenizer and blocks for the recurrent language model.

The tokenizer is a `tokenizers` WordLevel model over the corpus's characters (plus <pad> and
<unk>), wrapped as a transformers fast tokenizer, so it saves as tokenizer.json and loads back with
`AutoTokenizer.from_pretrained`.
"""

from __future__ import annotations

from typing import Any

PAD, UNK = "<pad>", "<unk>"


def char_tokenizer(text: str) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {PAD: 0, UNK: 1}
    for ch in sorted(set(text)):
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    # every character is its own token, newlines included ([\s\S]: Oniguruma has no dot-all flag)
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()  # join characters back without spaces
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, unk_token=UNK)


def blocks(ids: list[int], block_size: int) -> list[list[int]]:
    """Non-overlapping windows of block_size + 1 ids: the model predicts ids[1:] from ids[:-1]."""
    step = block_size + 1
    return [ids[i:i + step] for i in range(0, len(ids) - step + 1, block_size)]


class BlockDataset:
    """Blocks as a map-style dataset for Trainer: a causal LM's labels are its inputs (it shifts them itself)."""

    def __init__(self, rows: list[list[int]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        ids = torch.tensor(self.rows[i])
        return {"input_ids": ids, "labels": ids}
