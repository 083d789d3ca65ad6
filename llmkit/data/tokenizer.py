"""Train a byte-level BPE tokenizer with `tokenizers` and wrap it for transformers.

Byte-level BPE covers every string (Chinese included: unseen characters fall back to bytes), and
digits are split one per token so that numbers tokenise the same way in every context.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmkit.data.chat import CHATML_TEMPLATE

EOS = "<|endoftext|>"
PAD = "<|pad|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [EOS, PAD, IM_START, IM_END]


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int):
    """A `PreTrainedTokenizerFast` with EOS, PAD and ChatML special tokens and a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START, IM_END],
    )
    wrapped.chat_template = CHATML_TEMPLATE
    return wrapped
