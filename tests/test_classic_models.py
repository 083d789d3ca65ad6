"""Classic models: forward/backward, save -> load bit equality through the Auto classes, parameter
counts of the canonical configurations (on the meta device), GoogLeNet's auxiliary loss, RNN packing."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import llmkit  # noqa: F401  (registers the model types with the Auto classes)
from llmkit.models.classic import alexnet, googlenet, lenet, mlp, resnet, rnn, vgg
from llmkit.models.classic.registry import PRESETS, count_parameters

IMAGES = torch.Generator().manual_seed(0)


def _images(n, c, size):
    return torch.randn(n, c, size, size, generator=IMAGES)


# (model class, config, inputs) for a tiny network of every family and head
TINY = {
    "perceptron": (mlp.MLPForImageClassification, mlp.MLPConfig(input_size=12, hidden_sizes=[], num_labels=3),
                   {"pixel_values": _images(4, 3, 2)}),
    "mlp": (mlp.MLPForImageClassification, mlp.MLPConfig(input_size=12, hidden_sizes=[8, 6], num_labels=3),
            {"pixel_values": _images(4, 3, 2)}),
    "lenet5": (lenet.LeNet5ForImageClassification, lenet.LeNet5Config(num_labels=3),
               {"pixel_values": _images(4, 1, 32)}),
    "alexnet": (alexnet.AlexNetForImageClassification,
                alexnet.AlexNetConfig(channels=[8, 8, 8, 8, 8], groups=[1, 2, 1, 2, 2], hidden_size=16,
                                      stem_kernel=3, stem_stride=1, pool_size=1, num_labels=3),
                {"pixel_values": _images(4, 3, 32)}),
    "vgg": (vgg.VGGForImageClassification,
            vgg.VGGConfig(layers=[4, "M", 8, "8@1", "M"], batch_norm=True, hidden_size=16, pool_size=1, num_labels=3),
            {"pixel_values": _images(4, 3, 8)}),
    "googlenet": (googlenet.GoogLeNetForImageClassification,
                  googlenet.GoogLeNetConfig(width_divisor=16, batch_norm=True, num_labels=3),
                  {"pixel_values": _images(4, 3, 32)}),
    "resnet-basic": (resnet.ResNetForImageClassification,
                     resnet.ResNetConfig(num_channels=1, block="basic", layers=[1, 1], widths=[4, 8], stem="small",
                                         num_labels=3),
                     {"pixel_values": _images(4, 1, 8)}),
    "resnet-bottleneck": (resnet.ResNetForImageClassification,
                          resnet.ResNetConfig(block="bottleneck", layers=[1, 2], widths=[4, 8], num_labels=3),
                          {"pixel_values": _images(4, 3, 32)}),
    "gru-rows": (rnn.RNNForSequenceClassification, rnn.RNNConfig(cell="gru", input_size=5, hidden_size=6, num_labels=3),
                 {"inputs_embeds": torch.randn(4, 7, 5, generator=IMAGES)}),
    "bilstm-tokens": (rnn.RNNForSequenceClassification,
                      rnn.RNNConfig(cell="lstm", vocab_size=11, input_size=5, hidden_size=6, num_layers=2,
                                    bidirectional=True, num_labels=3),
                      {"input_ids": torch.randint(0, 11, (4, 7), generator=IMAGES),
                       "attention_mask": torch.tensor([[1] * 7, [1] * 5 + [0] * 2, [1] * 3 + [0] * 4, [1] * 7])}),
    "rnn-charlm": (rnn.RNNForCausalLM, rnn.RNNConfig(cell="rnn", vocab_size=11, input_size=5, hidden_size=6),
                   {"input_ids": torch.randint(0, 11, (4, 7), generator=IMAGES)}),
}
LABELS = torch.tensor([0, 1, 2, 1])
AUTO = {"RNNForSequenceClassification": "AutoModelForSequenceClassification", "RNNForCausalLM": "AutoModelForCausalLM"}


def _build(name):
    cls, config, inputs = TINY[name]
    torch.manual_seed(0)
    labels = inputs["input_ids"] if cls is rnn.RNNForCausalLM else LABELS
    return cls(config), inputs, labels


@pytest.mark.parametrize("name", TINY)
def test_forward_backward(name):
    model, inputs, labels = _build(name)
    model.train()
    out = model(**inputs, labels=labels)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert out.logits.shape[0] == 4
    out.loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no gradient for {missing}"


@pytest.mark.parametrize("name", TINY)
def test_save_then_auto_load_is_bit_identical(name, tmp_path):
    import transformers

    model, inputs, _ = _build(name)
    model.eval()
    with torch.no_grad():
        expected = model(**inputs).logits
    model.save_pretrained(tmp_path)
    auto = getattr(transformers, AUTO.get(type(model).__name__, "AutoModelForImageClassification"))
    loaded = auto.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    # every tensor, buffers (BatchNorm running stats) included, must come back: transformers 5 can
    # re-initialise silently, which would also show as different logits below
    saved, back = model.state_dict(), loaded.state_dict()
    assert saved.keys() == back.keys()
    assert all(torch.equal(saved[k], back[k]) for k in saved)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, expected, rtol=1e-5, atol=1e-6)
        # from_pretrained leaves tensors memory-mapped from safetensors at addresses where oneDNN may pick
        # another kernel and change a last bit (seen with GoogLeNet's BatchNorm); the same bytes in
        # fresh memory give bit-identical logits
        for tensor in [*loaded.parameters(), *loaded.buffers()]:
            tensor.data = tensor.data.clone()
        assert torch.equal(loaded(**inputs).logits, expected)


# Counts from torchvision (same networks), LeNet-5 with full C3, and the two paper variants explained
# in alexnet.py and googlenet.py.
CANONICAL = {
    "lenet5": 61_706, "alexnet-torchvision": 61_100_840, "alexnet": 60_965_224, "vgg11": 132_863_336,
    "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240, "resnet18": 11_689_512,
    "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160, "resnet152": 60_192_808,
}


@pytest.mark.parametrize("name", CANONICAL)
def test_canonical_parameter_counts(name):
    assert count_parameters(PRESETS[name]) == CANONICAL[name]


@pytest.mark.parametrize("name,without_aux", [("googlenet-torchvision", 6_624_904), ("googlenet", 6_998_552)])
def test_googlenet_parameter_counts_without_auxiliary_heads(name, without_aux):
    assert count_parameters(PRESETS[name], aux_classifiers=False) == without_aux
    assert count_parameters(PRESETS[name]) > without_aux  # the heads exist when enabled


def test_counts_use_the_meta_device():
    with torch.device("meta"):
        model = vgg.VGGForImageClassification(vgg.VGGConfig())
    assert all(p.device.type == "meta" for p in model.parameters())


def test_googlenet_loss_is_main_plus_weighted_auxiliaries():
    config = googlenet.GoogLeNetConfig(width_divisor=16, num_labels=3, dropout=0.0, aux_dropout=0.0, aux_weight=0.3)
    torch.manual_seed(0)
    model = googlenet.GoogLeNetForImageClassification(config)
    x = _images(4, 3, 32)
    model.train()
    out = model(pixel_values=x, labels=LABELS)
    assert len(out.aux_logits) == 2
    main, aux1, aux2 = (F.cross_entropy(logits, LABELS) for logits in (out.logits, *out.aux_logits))
    torch.testing.assert_close(out.loss, main + 0.3 * aux1 + 0.3 * aux2)
    assert not torch.allclose(out.loss, main)  # the auxiliaries really add something

    model.eval()  # at inference the auxiliary heads do not run and the loss is the main one
    out = model(pixel_values=x, labels=LABELS)
    assert out.aux_logits is None
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, LABELS))


def test_rnn_padding_does_not_change_the_result():
    config = rnn.RNNConfig(cell="lstm", vocab_size=11, input_size=5, hidden_size=6, bidirectional=True, num_labels=3)
    torch.manual_seed(0)
    model = rnn.RNNForSequenceClassification(config).eval()
    ids = torch.tensor([[3, 4, 5, 6]])
    padded = torch.tensor([[3, 4, 5, 6, 0, 0]])
    with torch.no_grad():
        alone = model(input_ids=ids).logits
        batch = model(input_ids=padded, attention_mask=torch.tensor([[1, 1, 1, 1, 0, 0]])).logits
    torch.testing.assert_close(alone, batch)


def test_char_lm_generate_is_greedy_next_token():
    model, inputs, _ = _build("rnn-charlm")
    model.eval()
    prompt = inputs["input_ids"][:1, :3]
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=5, do_sample=False)
    ids = prompt
    with torch.no_grad():
        for _ in range(5):  # the same thing by hand: append the argmax of the last position
            ids = torch.cat([ids, model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids)


def test_invalid_configs_say_what_to_do():
    with pytest.raises(ValueError, match="32x32"):
        lenet.LeNet5ForImageClassification(lenet.LeNet5Config(image_size=28))
    with pytest.raises(ValueError, match="bidirectional"):
        rnn.RNNForCausalLM(rnn.RNNConfig(vocab_size=5, bidirectional=True))
    with pytest.raises(ValueError, match="cell"):
        rnn.RNNConfig(cell="transformer")


def test_import_llmkit_is_cheap_and_registers_on_first_auto_import(tmp_path):
    torch.manual_seed(0)
    config = resnet.ResNetConfig(block="basic", layers=[1], widths=[4], stem="small", num_labels=2)
    resnet.ResNetForImageClassification(config).save_pretrained(tmp_path)
    code = ("import sys, llmkit\n"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
            "from transformers import AutoConfig, AutoModelForImageClassification\n"
            f"print(AutoConfig.from_pretrained({str(tmp_path)!r}).model_type)\n"
            f"m = AutoModelForImageClassification.from_pretrained({str(tmp_path)!r})\n"
            "print(type(m).__name__, AutoConfig.for_model('llmkit-rnn').model_type)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["llmkit-resnet", "ResNetForImageClassification", "llmkit-rnn"]


def test_importing_a_model_file_first_still_registers():
    # the model file imports transformers (and PreTrainedModel) before the Auto classes are imported
    code = ("from llmkit.models.classic import resnet\n"
            "from transformers import AutoConfig, AutoModelForImageClassification\n"
            "print(AutoConfig.for_model('llmkit-resnet', depth=18).model_type)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["llmkit-resnet"]
