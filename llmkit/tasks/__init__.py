"""What `llmkit finetune` trains on: a task turns its data into token ids, batches them, and scores the model.

sft.py: chat data, answer-only labels, held-out exact match. classify.py: labelled texts, a new
classification head, held-out accuracy.
"""
