"""See configuration_chatglm.py: ChatGLM's module names around a plain causal transformer."""

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_chatglm import ChatGLMConfig


class SelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x, prefix_kv):
        b, t, d = x.shape
        q, k, v = self.query_key_value(x).split(d, dim=-1)
        if prefix_kv is not None:  # P-tuning v2: trained keys and values before the sequence
            k, v = torch.cat([prefix_kv[0], k], 1), torch.cat([prefix_kv[1], v], 1)
        q, k, v = (z.view(b, z.shape[1], self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        n_prefix = k.shape[2] - t
        mask = torch.ones(t, k.shape[2], dtype=torch.bool, device=x.device).tril(n_prefix)
        y = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.dense(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, config.ffn_hidden_size)
        self.dense_4h_to_h = nn.Linear(config.ffn_hidden_size, config.hidden_size)

    def forward(self, x):
        return self.dense_4h_to_h(nn.functional.gelu(self.dense_h_to_4h(x)))


class GLMBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size)
        self.self_attention = SelfAttention(config)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size)
        self.mlp = MLP(config)

    def forward(self, x, prefix_kv):
        x = x + self.self_attention(self.input_layernorm(x), prefix_kv)
        return x + self.mlp(self.post_attention_layernorm(x))


class GLMTransformer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layers = nn.ModuleList(GLMBlock(config) for _ in range(config.num_layers))


class ChatGLMModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.encoder = GLMTransformer(config)
        self.output_layer = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.pre_seq_len is not None:
            # As the real code does: a prefix of keys and values per layer, and the rest frozen.
            for param in self.parameters():
                param.requires_grad = False
            self.prefix_encoder = nn.Embedding(config.pre_seq_len, config.num_layers * 2 * config.hidden_size)

    def forward(self, input_ids):
        x = self.embedding(input_ids)
        prefix = None
        if self.config.pre_seq_len is not None:
            prefix = self.prefix_encoder.weight.view(self.config.pre_seq_len, self.config.num_layers, 2, -1)
        for i, layer in enumerate(self.encoder.layers):
            kv = None
            if prefix is not None:
                kv = [prefix[:, i, j].unsqueeze(0).expand(x.shape[0], -1, -1) for j in (0, 1)]
            x = layer(x, kv)
        return self.output_layer(x)


class ChatGLMForConditionalGeneration(PreTrainedModel, GenerationMixin):
    config_class = ChatGLMConfig

    def __init__(self, config):
        super().__init__(config)
        self.transformer = ChatGLMModel(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        logits = self.transformer(input_ids)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(),
                                               ignore_index=-100)
        return CausalLMOutput(loss=loss, logits=logits)
