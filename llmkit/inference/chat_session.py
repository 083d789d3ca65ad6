"""Chat with a model in the terminal, streaming tokens as they are generated."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from llmkit import console
from llmkit.data.chat import turn_end_token_ids


@dataclass
class ChatSession:
    model: Any
    tokenizer: Any
    system: str | None = None
    max_new_tokens: int = 256
    temperature: float = 0.0
    history: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, model: str, *, adapter: str | None = None, trust_remote_code: bool = False,
             **options: Any) -> ChatSession:
        """`model` is a model folder, Hub id or GGUF file, or a `llmkit finetune` output (its base is in its
        manifest); see llmkit.inference.loader."""
        from llmkit.inference.loader import load_for_inference

        loaded = load_for_inference(model, adapter=adapter, trust_remote_code=trust_remote_code, task="sft",
                                    job="chat")
        return cls(loaded.model, loaded.tokenizer, **options)

    def ask(self, prompt: str, echo: bool = True) -> str:
        """Answer `prompt` given the conversation so far, printing tokens as they come."""
        import torch
        from transformers import TextIteratorStreamer

        messages = ([{"role": "system", "content": self.system}] if self.system else []) + self.history
        messages.append({"role": "user", "content": prompt})
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {"do_sample": True, "temperature": self.temperature} if self.temperature > 0 else {
            "do_sample": False}
        generate_kwargs = dict(**inputs, max_new_tokens=self.max_new_tokens, streamer=streamer,
                               eos_token_id=turn_end_token_ids(self.tokenizer),
                               pad_token_id=self.tokenizer.pad_token_id, **sampling)
        with torch.no_grad():
            worker = threading.Thread(target=self.model.generate, kwargs=generate_kwargs)
            worker.start()
            pieces = []
            for piece in streamer:
                pieces.append(piece)
                if echo:
                    console.stream(piece)
            worker.join()
        if echo:
            console.stream("\n")
        answer = "".join(pieces).strip()
        self.history += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        return answer

    def interactive(self) -> None:
        """Read prompts until EOF, `exit` or `quit`; `clear` forgets the conversation."""
        console.info("llmkit chat: type a message; 'clear' resets the conversation, 'exit' or Ctrl-D quits.")
        while True:
            try:
                prompt = input("you> ").strip()
            except EOFError:
                console.stream("\n")
                return
            if prompt in ("exit", "quit"):
                return
            if prompt == "clear":
                self.history.clear()
                continue
            if prompt:
                console.stream("assistant> ")
                self.ask(prompt)
