"""A miniature stand-in for THUDM's ChatGLM2/3 remote code, for tests that run without downloads.

Module names follow modeling_chatglm.py of the real checkpoints (transformer.encoder.layers.N
.self_attention.query_key_value / .dense, .mlp.dense_h_to_4h / .dense_4h_to_h, transformer.prefix_encoder
when config.pre_seq_len is set); the maths is a plain small causal transformer.
"""

from transformers import PretrainedConfig


class ChatGLMConfig(PretrainedConfig):
    model_type = "chatglm"

    def __init__(self, vocab_size=400, hidden_size=64, num_layers=2, num_attention_heads=2, ffn_hidden_size=128,
                 pre_seq_len=None, prefix_projection=False, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_attention_heads = num_attention_heads
        self.ffn_hidden_size = ffn_hidden_size
        self.pre_seq_len = pre_seq_len
        self.prefix_projection = prefix_projection
        super().__init__(**kwargs)
