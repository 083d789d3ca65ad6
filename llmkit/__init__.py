"""llmkit: pretrain, fine-tune, chat with and evaluate language models on the Hugging Face stack.

Importing llmkit is cheap: torch and transformers are imported by the functions that need them,
so that `llmkit --help` answers at once.
"""

import logging

__version__ = "0.1.0"

# bitsandbytes 0.50 logs a harmless "Failed to load CPU gemm_4bit_forward from kernels-community" whenever
# peft, diffusers or llmkit import it on a machine without the `kernels` package. It would turn every one-line
# error into two lines; `llmkit --debug` shows it again.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

# Make llmkit's model types (llmkit-resnet, llmkit-rnn, ...) loadable by transformers' Auto classes,
# without importing transformers here: see llmkit/_autoregister.py.
from llmkit import _autoregister  # noqa: E402

_autoregister.install()
