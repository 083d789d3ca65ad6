"""A judge model for open answers, as MT-Bench uses one (Zheng et al. 2023, "Judging LLM-as-a-Judge").

Two modes, with MT-Bench's prompts: single-answer grading 1-10 written as "[[rating]]" (with the reference
answer in the prompt when the item has one), and pairwise comparison against a baseline's answer, asked in
both orders to cancel position bias; the orders disagreeing counts as a tie. A verdict that cannot be
parsed is a failure: counted and reported, never scored.

The judge is a local model (a folder or Hub id, run with llmkit's batched generation) or any
OpenAI-compatible endpoint (`POST {url}/chat/completions`), its key read from an environment variable.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol

from llmkit.errors import LlmkitError

SINGLE_SYSTEM = "You are a helpful assistant."
SINGLE_PROMPT = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such as the "
    "helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your "
    "evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, "
    "you must rate the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for "
    "example: \"Rating: [[5]]\".\n\n[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n"
    "[The End of Assistant's Answer]")
SINGLE_REFERENCE_PROMPT = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider correctness and "
    "helpfulness. You will be given a reference answer and the assistant's answer. Begin your evaluation by "
    "comparing the assistant's answer with the reference answer. Identify and correct any mistakes. Be as "
    "objective as possible. After providing your explanation, you must rate the response on a scale of 1 to 10 "
    "by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n[Question]\n"
    "{question}\n\n[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]")
PAIR_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to "
    "the user question displayed below. You should choose the assistant that follows the user's instructions and "
    "answers the user's question better. Your evaluation should consider factors such as the helpfulness, "
    "relevance, accuracy, depth, creativity, and level of detail of their responses. Begin your evaluation by "
    "comparing the two responses and provide a short explanation. Avoid any position biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow the length of "
    "the responses to influence your evaluation. Do not favor certain names of the assistants. Be as objective "
    "as possible. After providing your explanation, output your final verdict by strictly following this format: "
    "\"[[A]]\" if assistant A is better, \"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie.")
PAIR_PROMPT = (
    "[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's "
    "Answer]\n\n[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]")

_RATING = re.compile(r"\[\[(\d+(?:\.\d+)?)\]\]")
_RATING_LOOSE = re.compile(r"\[(\d+(?:\.\d+)?)\]")  # MT-Bench accepts "[7]" when "[[7]]" is absent
_VERDICT = re.compile(r"\[\[([ABC])\]\]")

Messages = list[dict[str, str]]


def parse_rating(text: str) -> float | None:
    """The 1-10 rating in a judgement ("Rating: [[7]]"), or None when there is none or it is out of range."""
    match = _RATING.search(text) or _RATING_LOOSE.search(text)
    if not match:
        return None
    rating = float(match.group(1))
    return rating if 1 <= rating <= 10 else None


def parse_verdict(text: str) -> str | None:
    """"A", "B" or "tie" from "[[A]]", "[[B]]", "[[C]]"; None when there is no verdict or more than one."""
    verdicts = set(_VERDICT.findall(text))
    if len(verdicts) != 1:
        return None
    verdict = verdicts.pop()
    return "tie" if verdict == "C" else verdict


def combine_orders(first: str | None, swapped: str | None) -> str | None:
    """The model's result from (model as A) and (model as B) verdicts: win, loss or tie; None if either failed."""
    if first is None or swapped is None:
        return None
    as_a = {"A": "win", "B": "loss", "tie": "tie"}[first]
    as_b = {"B": "win", "A": "loss", "tie": "tie"}[swapped]
    return as_a if as_a == as_b else "tie"  # the two orders disagree: position bias, a tie


def question_text(question: str, history: Messages) -> str:
    """A multi-turn item's earlier turns, then its question, as one block the judge reads."""
    turns = [f"{t['role'].capitalize()}: {t['content']}" for t in history]
    return "\n".join(turns + [f"User: {question}"]) if history else question


def single_messages(question: str, answer: str, reference: str | None) -> Messages:
    prompt = (SINGLE_REFERENCE_PROMPT.format(question=question, answer=answer, reference=reference) if reference
              else SINGLE_PROMPT.format(question=question, answer=answer))
    return [{"role": "system", "content": SINGLE_SYSTEM}, {"role": "user", "content": prompt}]


def pair_messages(question: str, answer_a: str, answer_b: str) -> Messages:
    return [{"role": "system", "content": PAIR_SYSTEM},
            {"role": "user", "content": PAIR_PROMPT.format(question=question, answer_a=answer_a, answer_b=answer_b)}]


class JudgeBackend(Protocol):
    name: str

    def complete(self, conversations: list[Messages]) -> list[str | None]:
        """The judge's reply to each conversation; None where the request failed."""


@dataclass
class HttpJudge:
    """An OpenAI-compatible chat endpoint: `url` is its base (e.g. http://127.0.0.1:8000/v1)."""

    url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    max_tokens: int = 512
    timeout_s: float = 120.0
    errors: list[str] = field(default_factory=list, init=False)  # why requests failed, for the run's warning

    @property
    def name(self) -> str:
        return f"{self.model} at {self.url}"

    def complete(self, conversations: list[Messages]) -> list[str | None]:
        from tqdm.auto import tqdm

        return [self._ask(c) for c in tqdm(conversations, desc="judging", unit="request", leave=False)]

    def _ask(self, messages: Messages) -> str | None:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0,
                           "max_tokens": self.max_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"  # never logged or written to the run record
        request = urllib.request.Request(self.url.rstrip("/") + "/chat/completions", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                reply = json.loads(response.read().decode("utf-8"))
            return reply["choices"][0]["message"]["content"]
        except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as e:
            self.errors.append(f"{type(e).__name__}: {e}")
            return None


@dataclass
class LocalJudge:
    """A model folder or Hub id, asked through its chat template with greedy decoding."""

    path: str
    max_tokens: int = 512
    batch_size: int = 4
    trust_remote_code: bool = False

    @property
    def name(self) -> str:
        return self.path

    def complete(self, conversations: list[Messages]) -> list[str | None]:
        from llmkit.eval.answer_scoring import generate_answers
        from llmkit.inference.loader import load_for_inference

        judge = load_for_inference(self.path, trust_remote_code=self.trust_remote_code, task="sft",
                                   job="the judge")
        return generate_answers(judge.model, judge.tokenizer, conversations, max_new_tokens=self.max_tokens,
                                batch_size=self.batch_size, desc="judging")


def make_judge(kind: str, *, model: str | None, url: str | None, api_key_env: str, max_tokens: int,
               batch_size: int, trust_remote_code: bool) -> JudgeBackend:
    if kind == "http":
        if not url or not model:
            raise LlmkitError("an http judge needs judge.url (the endpoint's base, e.g. http://host:8000/v1) "
                              "and judge.model (the model name the endpoint serves)")
        return HttpJudge(url, model, api_key_env, max_tokens)
    if kind == "local":
        if not model:
            raise LlmkitError("a local judge needs judge.model: a model folder or Hub id")
        from llmkit.models.loading import model_source

        # Fail before any answer is generated: not a model folder, or a Hub id not in the cache offline.
        return LocalJudge(model_source(model), max_tokens, batch_size, trust_remote_code)
    raise LlmkitError(f"judge.kind must be none, local or http, got {kind!r}")


@dataclass
class Judgement:
    """One item's judging: the rating (single) or the result (pairwise), and the raw replies."""

    score: float | None = None  # single: rating 1-10
    result: str | None = None  # pairwise: win, loss or tie
    replies: list[str | None] | None = None

    @property
    def failed(self) -> bool:
        return self.score is None and self.result is None


def judge_single(backend: JudgeBackend, items: list[tuple[str, str, str | None]]) -> list[Judgement]:
    """Grade (question, answer, reference or None) triples 1-10."""
    replies = backend.complete([single_messages(q, a, r) for q, a, r in items])
    return [Judgement(score=parse_rating(reply) if reply else None, replies=[reply]) for reply in replies]


def judge_pairwise(backend: JudgeBackend, items: list[tuple[str, str, str]]) -> list[Judgement]:
    """Compare (question, model answer, baseline answer) triples in both orders."""
    conversations = [pair_messages(q, a, b) for q, a, b in items] + [pair_messages(q, b, a) for q, a, b in items]
    replies = backend.complete(conversations)
    first, swapped = replies[:len(items)], replies[len(items):]
    return [Judgement(result=combine_orders(parse_verdict(r1) if r1 else None, parse_verdict(r2) if r2 else None),
                      replies=[r1, r2]) for r1, r2 in zip(first, swapped)]
