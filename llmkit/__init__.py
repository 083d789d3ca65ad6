"""llmkit: pretrain, fine-tune, chat with and evaluate language models on the Hugging Face stack.

Importing llmkit is cheap: torch and transformers are imported by the functions that need them,
so that `llmkit --help` answers at once.
"""

from llmkit.quiet import quiet_bitsandbytes

__version__ = "0.1.0"

quiet_bitsandbytes()  # at import: peft imports bitsandbytes wherever it is used; `llmkit --debug` undoes it

# Make llmkit's model types (llmkit-resnet, llmkit-rnn, ...) loadable by transformers' Auto classes,
# without importing transformers here: see llmkit/_autoregister.py.
from llmkit import _autoregister  # noqa: E402

_autoregister.install()
