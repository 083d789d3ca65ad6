import torch

from llmkit.data.packing import IGNORE_INDEX, pack_into_blocks


def test_blocks_have_eos_between_documents_and_keep_the_remainder():
    inputs, labels = pack_into_blocks([[1, 2, 3], [4, 5], [6]], block_size=4, eos_id=9, pad_id=0)
    assert inputs == [[1, 2, 3, 9], [4, 5, 9, 6], [9, 0, 0, 0]]
    assert labels == [[1, 2, 3, 9], [4, 5, 9, 6], [9, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]
    stream = [t for block, lab in zip(inputs, labels) for t, lb in zip(block, lab) if lb != IGNORE_INDEX]
    assert stream == [1, 2, 3, 9, 4, 5, 9, 6, 9]  # nothing dropped


def test_padding_free_batches_never_attend_across_examples(tiny_base):
    """Flattened examples (one row, restarting position_ids) give the same logits as each alone."""
    from transformers import AutoModelForCausalLM, DataCollatorWithFlattening

    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    examples = [[5, 17, 33, 2, 8], [40, 41], [7, 7, 7, 7, 7, 7, 7]]
    batch = DataCollatorWithFlattening()([{"input_ids": e, "labels": e} for e in examples])
    assert batch["input_ids"].shape == (1, sum(map(len, examples)))
    assert "attention_mask" not in batch
    with torch.no_grad():
        # With a KV cache transformers ignores packing; training runs without one (use_cache=False).
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        offset = 0
        for example in examples:
            alone = model(input_ids=torch.tensor([example])).logits[0]
            torch.testing.assert_close(packed[offset:offset + len(example)], alone, atol=1e-5, rtol=1e-5)
            offset += len(example)
