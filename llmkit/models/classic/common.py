"""What every classic model shares: weight initialisation, the classification loss, activations.

Initialisation goes through `transformers.initialization`, whose helpers skip tensors that
`from_pretrained` has already filled. Writing through `.data` instead can make `from_pretrained`
silently return random weights (transformers issue 46620), so nothing here does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers import initialization as init

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def with_labels(num_labels: int, kwargs: dict) -> dict:
    """PretrainedConfig kwargs with `num_labels`, unless a saved config brings its own `id2label`.

    On `from_pretrained` the saved id2label comes back in kwargs while `num_labels` takes our default:
    passing both would resize the head to the default and re-initialise it.
    """
    if kwargs.get("id2label") is None:
        kwargs["num_labels"] = num_labels
    return kwargs


class ClassicConfig(PretrainedConfig):
    """Always writes id2label, so the number of classes survives save -> load.

    transformers leaves id2label out of config.json when there are 2 classes (its default), and
    our configs default to 10 or 1000: a 2-class model would come back with the wrong head.
    """

    def to_diff_dict(self) -> dict:
        diff = super().to_diff_dict()
        diff.setdefault("id2label", {str(k): v for k, v in self.id2label.items()})
        return diff


def classification_loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    return None if labels is None else F.cross_entropy(logits, labels.long())


class ClassicPreTrainedModel(PreTrainedModel):
    """Base of llmkit's classic models: the paper-era initialisations instead of transformers' N(0, 0.02).

    N(0, 0.02) for every conv is far too small for a 50-layer ReLU network to train from scratch;
    He et al. (2015) initialisation keeps activations at unit scale through ReLU stacks.
    """

    base_model_prefix = "model"
    main_input_name = "pixel_values"
    supports_gradient_checkpointing = False

    def _init_weights(self, module: nn.Module) -> None:
        relu = getattr(self.config, "activation", "relu") == "relu"
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            if relu:
                init.kaiming_normal_(module.weight, mode="fan_out" if isinstance(module, nn.Conv2d) else "fan_in",
                                     nonlinearity="relu")
            else:  # tanh / sigmoid networks (LeNet, the perceptron): Glorot & Bengio (2010)
                init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=1.0)
        elif isinstance(module, (nn.RNN, nn.LSTM, nn.GRU)):
            # transformers' generic init skips recurrent layers: orthogonal recurrent
            # weights keep gradients from exploding or vanishing over long sequences.
            for name, param in module.named_parameters():
                if getattr(param, "_is_hf_initialized", False):
                    continue  # loaded by from_pretrained; the slices below would not carry the flag
                if name.startswith("weight_hh"):
                    for gate in param.chunk(_gates(module), dim=0):
                        init.orthogonal_(gate)
                elif name.startswith("weight_ih"):
                    init.xavier_uniform_(param)
                elif name.startswith("bias"):
                    init.zeros_(param)
                    if isinstance(module, nn.LSTM) and name.startswith("bias_ih"):
                        # forget-gate bias 1 (Jozefowicz et al. 2015): remember by default early on
                        init.ones_(param[module.hidden_size:2 * module.hidden_size])


def _gates(module: nn.Module) -> int:
    return {nn.LSTM: 4, nn.GRU: 3}.get(type(module), 1)
