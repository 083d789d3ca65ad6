"""What the model does with text, logged during pretraining: greedy continuations (GPT-2, LLaMA) or
fill-mask predictions (BERT) on the starts of validation blocks."""

from __future__ import annotations

from typing import Any

from llmkit.data.packing import IGNORE_INDEX

PROMPT_TOKENS = 12  # of each validation block: enough context to continue, short enough to read in a log line


def causal_samples(model: Any, tokenizer: Any, blocks: Any, n: int, new_tokens: int) -> list[dict[str, str]]:
    """Greedy continuations of the first PROMPT_TOKENS tokens of the first `n` validation blocks."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    samples = []
    with torch.no_grad():
        for row in range(min(n, len(blocks))):
            prompt = blocks.input_ids[row, :PROMPT_TOKENS].unsqueeze(0).to(device)
            output = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                                    do_sample=False, pad_token_id=tokenizer.pad_token_id)
            samples.append({"prompt": tokenizer.decode(prompt[0]),
                            "continuation": tokenizer.decode(output[0, prompt.shape[1]:])})
    model.train(was_training)
    return samples


def fill_mask_examples(model: Any, tokenizer: Any, blocks: Any, n: int, tokens: int,
                       seed: int) -> list[dict[str, str]]:
    """The first `tokens` tokens of `n` validation blocks with ~15% masked, and what the model puts back."""
    import torch

    from llmkit.pretraining.masking import mask_tokens

    device = next(model.parameters()).device
    special = torch.tensor(tokenizer.all_special_ids)
    was_training = model.training
    model.eval()
    examples = []
    with torch.no_grad():
        for row in range(min(n, len(blocks))):
            ids = blocks.input_ids[row:row + 1, :tokens]
            real = blocks.labels[row:row + 1, :tokens] != IGNORE_INDEX
            maskable = real & ~torch.isin(ids, special)
            # Every chosen position shown as [MASK], so the example reads as a cloze test.
            _, labels = mask_tokens(ids, maskable, tokenizer.mask_token_id, len(tokenizer), seed=seed, step=row)
            chosen = labels != IGNORE_INDEX
            masked = torch.where(chosen, tokenizer.mask_token_id, ids)
            predicted = model(input_ids=masked.to(device)).logits.argmax(-1).cpu()
            filled = torch.where(chosen, predicted, ids)
            examples.append({"masked": tokenizer.decode(masked[0]), "filled": tokenizer.decode(filled[0]),
                             "original": tokenizer.decode(ids[0]),
                             "correct": f"{int((predicted == ids)[chosen].sum())}/{int(chosen.sum())}"})
    model.train(was_training)
    return examples
