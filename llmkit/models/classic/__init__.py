"""Classic networks as transformers models: one file per family, `registry.py` names the presets.

`register()` makes every family known to `AutoConfig` and the matching `AutoModel*` classes; it runs
when transformers' auto classes are first imported after `import llmkit` (see llmkit/_autoregister.py).
"""

from __future__ import annotations

# module of this package -> (config class, [(transformers Auto class it registers with, model class), ...])
CLASSES_BY_MODULE: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "mlp": ("MLPConfig", [("AutoModelForImageClassification", "MLPForImageClassification")]),
    "lenet": ("LeNet5Config", [("AutoModelForImageClassification", "LeNet5ForImageClassification")]),
    "alexnet": ("AlexNetConfig", [("AutoModelForImageClassification", "AlexNetForImageClassification")]),
    "vgg": ("VGGConfig", [("AutoModelForImageClassification", "VGGForImageClassification")]),
    "googlenet": ("GoogLeNetConfig", [("AutoModelForImageClassification", "GoogLeNetForImageClassification")]),
    "resnet": ("ResNetConfig", [("AutoModelForImageClassification", "ResNetForImageClassification")]),
    "rnn": ("RNNConfig", [("AutoModelForSequenceClassification", "RNNForSequenceClassification"),
                          ("AutoModelForCausalLM", "RNNForCausalLM")]),
}


def register() -> None:
    """Register every family with AutoConfig and its AutoModel* classes (safe to call twice)."""
    import importlib

    import transformers

    for family, (config_name, heads) in CLASSES_BY_MODULE.items():
        module = importlib.import_module(f"llmkit.models.classic.{family}")
        config_cls = getattr(module, config_name)
        transformers.AutoConfig.register(config_cls.model_type, config_cls, exist_ok=True)
        for auto_name, model_name in heads:
            getattr(transformers, auto_name).register(config_cls, getattr(module, model_name), exist_ok=True)
