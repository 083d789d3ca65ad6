import torch

from llmkit.data.packing import IGNORE_INDEX, pack_into_blocks


def test_blocks_have_eos_between_documents_and_keep_the_remainder():
    inputs, labels = pack_into_blocks([[1, 2, 3], [4, 5], [6]], block_size=4, eos_id=9, pad_id=0)
    assert inputs == [[1, 2, 3, 9], [4, 5, 9, 6], [9, 0, 0, 0]]
    assert labels == [[1, 2, 3, 9], [4, 5, 9, 6], [9, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]
    stream = [t for block, lab in zip(inputs, labels) for t, lb in zip(block, lab) if lb != IGNORE_INDEX]
    assert stream == [1, 2, 3, 9, 4, 5, 9, 6, 9]  # nothing dropped


def test_padding_free_rows_never_attend_across_examples(tiny_base):
    """Examples packed into rows (position_ids restarting) give the same logits as each alone."""
    from transformers import AutoModelForCausalLM

    from llmkit.data.collate import PackedRowsCollator

    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    examples = [[5, 17, 33, 2, 8], [40, 41], [7, 7, 7, 7, 7, 7, 7], [9, 10, 11]]
    batch = PackedRowsCollator(pad_token_id=1, row_tokens=9)([{"input_ids": e, "labels": e} for e in examples])
    # First-fit decreasing: [7x7 + 40,41] and [5 tokens + 3 tokens, then one pad]: two rows, one pad token.
    assert batch["input_ids"].tolist() == [[7, 7, 7, 7, 7, 7, 7, 40, 41], [5, 17, 33, 2, 8, 9, 10, 11, 1]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5, 6, 0, 1], [0, 1, 2, 3, 4, 0, 1, 2, 0]]
    # No example's first token is learned from the previous example; padding is never learned.
    assert batch["labels"].tolist() == [[-100, 7, 7, 7, 7, 7, 7, -100, 41], [-100, 17, 33, 2, 8, -100, 10, 11, -100]]
    assert "attention_mask" not in batch
    with torch.no_grad():
        # With a KV cache transformers ignores packing; training runs without one (use_cache=False).
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        placements = {(0, 0): examples[2], (0, 7): examples[1], (1, 0): examples[0], (1, 5): examples[3]}
        for (row, offset), example in placements.items():
            alone = model(input_ids=torch.tensor([example])).logits[0]
            torch.testing.assert_close(packed[row, offset:offset + len(example)], alone, atol=1e-5, rtol=1e-5)
