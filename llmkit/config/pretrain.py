"""`llmkit pretrain`: a GPT-2, LLaMA or BERT model and its tokenizer from scratch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from llmkit.config import option
from llmkit.config.sections import WARMUP_RENAMED, JobOutput, TrainSection


@dataclass
class CorpusSection:
    path: list[str] = option("Text files or folders (.txt, .md, .jsonl, .json, .parquet). Empty: the built-in "
                            "corpus.", [])
    text_column: str = option("Column holding the text in JSONL/Parquet files.", "text")
    streaming: bool = option("Read the files through a streaming `datasets` iterator instead of converting them "
                            "to Arrow first; stops at max_documents when that is set. The documents and their "
                            "tokens are still held in memory.", False)
    max_documents: int = option("Use only the first N documents (0: all).", 0, at_least=0)
    builtin_documents: int = option("Documents generated for the built-in corpus.", 30000, at_least=1)
    validation_fraction: float = option("Fraction of blocks held out for validation loss.", 0.02, above=0, below=1)
    block_size: int = option("Tokens per training block (documents are packed with EOS between). 0: the preset's.",
                            0, at_least=0)


@dataclass
class TokenizerSection:
    path: str | None = option("Reuse this tokenizer instead of training one.", None)
    vocab_size: int = option("Vocabulary size of the trained tokenizer (byte-level BPE for gpt2/llama, WordPiece "
                            "for bert). 0: the preset's.", 0, at_least=0)


@dataclass
class ArchSection:
    type: Literal["llama", "gpt2", "bert"] = option(
        "Architecture built from config: llama or gpt2 (causal LM), bert (masked LM).", "llama")
    preset: str = option("Named shape the keys below default to: tiny (~1.3M), small (~9M), gpt2-124m "
                        "(see `llmkit pretrain --help`).", "tiny")
    hidden_size: int = option("Model width (0: the preset's).", 0, at_least=0)
    layers: int = option("Transformer blocks (0: the preset's).", 0, at_least=0)
    heads: int = option("Attention heads (0: the preset's).", 0, at_least=0)
    intermediate_size: int = option("MLP width (0: the preset's).", 0, at_least=0)
    max_position_embeddings: int = option("Longest sequence the model accepts (0: the preset's).", 0, at_least=0)
    dropout: float = option("Dropout in every block (0 is usual when pretraining on one pass of data).",
                           0.0, at_least=0, below=1)
    attention: Literal["auto", "sdpa", "eager", "flash_attention_2", "flex_attention"] = option(
        "Attention kernel (transformers' attn_implementation). auto: SDPA (flash attention on CUDA).", "auto")
    pad_vocab_to: int = option("Round the embedding rows up to a multiple of this (64: tensor-core friendly, "
                              "as nanoGPT's 50304); the extra rows are never produced by the tokenizer.",
                              64, at_least=1)


@dataclass
class MonitorSection:
    eval_steps: int = option("Validation loss every this many steps (0: only at the end).", 200, at_least=0)
    eval_batches: int = option("Validation batches per evaluation (0: the whole validation split).", 0, at_least=0)
    sample_steps: int = option("Log sample generations (GPT/LLaMA) or fill-mask examples (BERT) every this many "
                              "steps (0: only at the end).", 500, at_least=0)
    num_samples: int = option("Examples shown each time (prompts are the starts of validation blocks).", 2, at_least=0)
    sample_tokens: int = option("Tokens generated per sample (greedy).", 24, at_least=1)
    save_steps: int = option("Write a checkpoint every this many steps (0: none); --resume continues from the last.",
                            500, at_least=0)
    keep_checkpoints: int = option("Checkpoints kept (the oldest are deleted).", 2, at_least=0)
    peak_tflops: float = option("Peak dense TFLOP/s that MFU is measured against. 0: the device's from llmkit's "
                               "table (H100/H200 989 bf16); no MFU where the peak is unknown (CPUs).", 0.0, at_least=0)


@dataclass
class PretrainConfig(JobOutput):
    renamed_keys: ClassVar[dict[str, str]] = {**WARMUP_RENAMED, "monitor.samples": "monitor.num_samples"}

    resume: bool = option("Continue the run in `output` from its last checkpoint.", False)
    corpus: CorpusSection = field(default_factory=CorpusSection)
    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    arch: ArchSection = field(default_factory=ArchSection)
    monitor: MonitorSection = field(default_factory=MonitorSection)
    train: TrainSection = field(default_factory=lambda: TrainSection(
        epochs=1.0, batch_size=32, lr=0.0, warmup_steps=0.05, weight_decay=0.1, logging_steps=25,
        torch_compile=True))
