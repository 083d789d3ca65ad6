"""Recurrent networks: Elman RNN, LSTM, GRU.

Elman, "Finding structure in time", Cognitive Science 14 (1990). Hochreiter & Schmidhuber, "Long
short-term memory", Neural Computation 9 (1997), with the forget gate of Gers et al. (2000).
Cho et al., "Learning phrase representations using RNN encoder-decoder...", EMNLP 2014 (GRU).
Schuster & Paliwal, "Bidirectional recurrent neural networks", IEEE TSP 45 (1997).

One config, `cell` in {rnn, lstm, gru}, uni- or bidirectional, `num_layers` stacked. Inputs are
token ids (`vocab_size > 0`: an embedding of `input_size` dims) or real vectors per step
(`vocab_size = 0`: `inputs_embeds` of `input_size` features, e.g. an 8x8 digit read as 8 rows of 8).
Two heads: sequence classification from the final hidden state(s), and a character-level language
model with `generate`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin
from transformers.modeling_outputs import CausalLMOutput, SequenceClassifierOutput

from llmkit.models.classic.common import ClassicConfig, ClassicPreTrainedModel, classification_loss, with_labels

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RNNConfig(ClassicConfig):
    model_type = "llmkit-rnn"

    def __init__(self, cell: str = "lstm", vocab_size: int = 0, input_size: int = 8, hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0, num_labels: int = 10,
                 **kwargs):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        self.cell = cell
        self.vocab_size = vocab_size
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout  # between stacked layers, as nn.LSTM applies it
        self.activation = "tanh"  # for the shared initialiser: Glorot for the input and output layers
        super().__init__(**with_labels(num_labels, kwargs))


class RNNPreTrainedModel(ClassicPreTrainedModel):
    config_class = RNNConfig
    main_input_name = "input_ids"


class RNNEncoder(nn.Module):
    """Embedding (for token ids) + the recurrent stack; returns per-step outputs and the final states."""

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.input_size) if config.vocab_size else None
        self.rnn = CELLS[config.cell](config.input_size, config.hidden_size, num_layers=config.num_layers,
                                      bidirectional=config.bidirectional, batch_first=True,
                                      dropout=config.dropout if config.num_layers > 1 else 0.0)

    def forward(self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None,
                attention_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids (token ids) and inputs_embeds (vectors per step)")
        if input_ids is not None:
            if self.embed is None:
                raise ValueError("this RNN reads vectors (vocab_size=0): pass inputs_embeds, not input_ids")
            inputs_embeds = self.embed(input_ids)
        if attention_mask is None:
            out, state = self.rnn(inputs_embeds)
        else:
            # Packing makes each sequence stop at its own length: padding never reaches the final
            # state, and the backward direction starts at the last real step, not at the padding.
            lengths = attention_mask.sum(dim=1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(inputs_embeds, lengths, batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=inputs_embeds.shape[1])
        h_n = state[0] if isinstance(state, tuple) else state  # an LSTM returns (h_n, c_n)
        return out, h_n


class RNNForSequenceClassification(RNNPreTrainedModel):
    """Classify a sequence from the last layer's final hidden state (both directions, concatenated)."""

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.encoder = RNNEncoder(config)
        directions = 2 if config.bidirectional else 1
        self.classifier = nn.Linear(directions * config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                return_dict: bool | None = None) -> SequenceClassifierOutput:
        _, h_n = self.encoder(input_ids, inputs_embeds, attention_mask)
        directions = 2 if self.config.bidirectional else 1
        final = torch.cat(list(h_n[-directions:]), dim=-1)  # h_n is (layers * directions, batch, hidden)
        logits = self.classifier(final)
        return SequenceClassifierOutput(loss=classification_loss(logits, labels), logits=logits)


class RNNForCausalLM(RNNPreTrainedModel, GenerationMixin):
    """Next-token (character) prediction: embedding -> recurrent stack -> linear over the vocabulary.

    `generate` re-reads the whole prefix at each step (no state cache): simple and exact, and the
    sequences of a character-level demo are short.
    """

    accepts_loss_kwargs = False  # forward takes **kwargs (from generate); the Trainer must still scale the loss

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        if config.bidirectional:
            raise ValueError("a language model predicts the next token from the past only: set bidirectional=False")
        if not config.vocab_size:
            raise ValueError("a language model needs token ids: set vocab_size")
        self.encoder = RNNEncoder(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                **kwargs: Any) -> CausalLMOutput:
        # Left padding (as generate batches prompts) would break packing's "real steps first" rule,
        # and a causal RNN never looks ahead, so right padding needs no mask: run unpacked.
        out, _ = self.encoder(input_ids, inputs_embeds, None)
        logits = self.lm_head(out)
        loss = None
        if labels is not None:  # labels are the inputs; predict position t+1 from positions <= t
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                   ignore_index=-100)
        return CausalLMOutput(loss=loss, logits=logits)

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, **kwargs: Any) -> dict[str, Any]:
        return {"input_ids": input_ids}

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # generate() would otherwise build a DynamicCache sized from attention-layer settings this
        # config does not have (num_hidden_layers); a recurrent state is not a key/value cache.
        return False
