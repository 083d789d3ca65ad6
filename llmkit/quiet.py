"""Keeping other libraries' notes to their own developers off a user's terminal; `llmkit --debug` shows them.

- bitsandbytes 0.50 logs "Failed to load CPU gemm_4bit_forward from kernels-community" whenever peft,
  diffusers or llmkit import it on a machine without the `kernels` package: harmless, and it would turn
  every one-line error into two lines.
- transformers 5 raises FutureWarnings about its own renames (`past_key_values` -> `cache`, gradient ->
  activation checkpointing) when peft or the Trainer use the old names: nothing a user can change.
- peft warns "Position ids are not supported for parameter efficient tuning" whenever generation hands
  position ids to a prompt-learning model, which then counts positions itself, as it should.
- accelerate's `save_state` logs "Removed shared tensor {'lm_head.weight'} while saving" for every checkpoint of
  a model with tied embeddings: loading ties them again, so nothing is lost.
- Progress bars redraw many times a second; in a log file (stderr not a terminal) each redraw is kept,
  so there they redraw at most every 30 s.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

LOG_REDRAW_SECONDS = 30


def quiet_bitsandbytes(quiet: bool = True) -> None:
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR if quiet else logging.NOTSET)


def quiet_library_warnings() -> None:
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message="Position ids are not supported", category=UserWarning)


def calm_progress_bars() -> None:
    """In a log, bars redraw every LOG_REDRAW_SECONDS. tqdm reads TQDM_* defaults when it is first imported, so
    this runs before anything imports it."""
    if not sys.stderr.isatty():
        os.environ.setdefault("TQDM_MININTERVAL", str(LOG_REDRAW_SECONDS))
