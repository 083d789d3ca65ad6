"""Prefix tuning and P-tuning v2 under a sequence-classification head.

peft's `PeftModelForSequenceClassification` looks for a `past_key_values` argument in the model's
forward signature; transformers 5 renamed it `cache`, so peft raises "Model does not support past key
values" for every classifier. This subclass passes the prefix as `cache=` itself. The saved adapter is
a standard peft prefix-tuning adapter (task SEQ_CLS): only this forward differs.
"""

from __future__ import annotations

from typing import Any

from peft import PeftModelForSequenceClassification


class PrefixSequenceClassifier(PeftModelForSequenceClassification):
    def forward(self, input_ids: Any = None, attention_mask: Any = None, **kwargs: Any) -> Any:
        if attention_mask is not None and kwargs.get("position_ids") is None:
            # Count positions over real tokens only (peft then shifts them past the prefix): a left-padded
            # row then sees the prefix from the same distance as the text alone. Prefix keys carry no
            # rotary position, so without this a decoder's logits would change with the padding.
            kwargs["position_ids"] = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        return super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def _prefix_tuning_forward(self, input_ids: Any = None, attention_mask: Any = None, inputs_embeds: Any = None,
                               labels: Any = None, **kwargs: Any) -> Any:
        # `forward` has already prepended the prefix's columns to attention_mask.
        batch_size = (input_ids if input_ids is not None else inputs_embeds).shape[0]
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return self.base_model(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                               labels=labels, cache=self.get_prompt(batch_size), **kwargs)

    @classmethod
    def load(cls, base_model: Any, adapter_dir: str) -> PrefixSequenceClassifier:
        """Load a saved prefix/P-tuning v2 classification adapter onto `base_model`, for inference."""
        from peft import PeftConfig

        config = PeftConfig.from_pretrained(adapter_dir)
        config.inference_mode = True
        model = cls(base_model, config)
        model.load_adapter(adapter_dir, adapter_name="default")
        return model
