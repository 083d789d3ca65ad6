"""Sharing on the Hugging Face Hub: choose what to upload (files.py), describe it (model_card.py), upload
it (push.py), and fetch Hub ids given as --model / --adapter / --base (resolve.py)."""
