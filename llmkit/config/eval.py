"""`llmkit eval`: a model on SuperCLUE-style benchmarks (choice and open answers, judges, reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from llmkit.config import option
from llmkit.config.sections import JobOutput, ModelSection


@dataclass
class EvalModelSection(ModelSection):
    adapter: str | None = option("Output of `llmkit finetune` (or a peft adapter) to apply to model.path.", None)


@dataclass
class BenchmarkSection:
    sources: list[str] = option(
        "What to evaluate on: `sample` (llmkit's sample benchmark), `demo-task` (the built-in task), a path, or "
        "FORMAT=PATH with FORMAT one of llmkit, ceval, cmmlu, mmlu, afqmc, tnews, csl.", ["sample", "demo-task"])
    split: str = option("Split to score (auto: val for C-Eval, test for CMMLU/MMLU, dev for CLUE).", "auto")
    categories: list[str] = option("Only these categories (a name, or a prefix such as ceval/). Empty: all.", [])
    types: list[Literal["choice", "open"]] = option("Only these item types (choice: multiple choice; open: open "
                                                   "answers).", ["choice", "open"])
    limit: int = option("Score at most N items per category (0: all).", 0, at_least=0)
    demo_task_items: int = option("Questions taken from the built-in task's held-out split (0: all of them).",
                                 0, at_least=0)


@dataclass
class ChoiceSection:
    methods: list[Literal["loglikelihood", "loglikelihood_option", "generate"]] = option(
        "How choice items are scored (each recorded per item, each computed only when listed): loglikelihood "
        "compares log P(' A')...; loglikelihood_option the option texts; generate answers and extracts the "
        "letter (SuperCLUE). `--choice-scoring` sets this and primary together.",
        ["loglikelihood", "loglikelihood_option", "generate"])
    primary: Literal["generate", "loglikelihood", "loglikelihood_option"] = option(
        "Which score counts for the choice track (loglikelihood_option: the option text most likely per "
        "character, lm-eval's acc_norm over the texts).", "generate")
    shots: int = option("Solved examples before each question, from the format's dev split (0: zero-shot).",
                       0, at_least=0)
    chat_template: bool = option("Ask choice questions inside the tokenizer's chat template.", False)
    max_new_tokens: int = option("Tokens generated per choice answer.", 32, at_least=1)
    category_max_new_tokens: list[str] = option(
        "Token budgets for generated choice answers per category, as CATEGORY=N (a category or a prefix such "
        "as ceval/; the most specific wins); other categories take max_new_tokens.", [])


@dataclass
class EvalGenerationSection:
    batch_size: int = option("Prompts per forward pass or generate call.", 8, at_least=1)
    max_new_tokens: int = option("Tokens generated per open answer.", 128, at_least=1)
    category_max_new_tokens: list[str] = option(
        "Token budgets for open answers per category, as CATEGORY=N (a category or a prefix such as "
        "demo-task/; the most specific wins); other categories take max_new_tokens.", [])
    cache: bool = option("Reuse cached model outputs ($LLMKIT_CACHE/eval), so a rerun only re-scores.", True)


@dataclass
class JudgeSection:
    kind: Literal["none", "local", "http"] = option(
        "Judge of open answers: none, a local model, or an OpenAI-compatible HTTP endpoint.", "none")
    model: str | None = option("local: model folder or Hub id; http: the model name the endpoint serves.", None)
    url: str | None = option("http: the endpoint's base URL, e.g. http://127.0.0.1:8000/v1.", None)
    api_key_env: str = option("http: environment variable holding the API key (never written anywhere).",
                             "OPENAI_API_KEY")
    mode: Literal["single", "pairwise"] = option(
        "single: grade each answer 1-10; pairwise: compare with the baseline's answers in both orders.", "single")
    baseline: str | None = option("pairwise: an earlier `llmkit eval` run folder whose answers are the baseline, "
                                 "or a model folder that answers the same prompts.", None)
    max_new_tokens: int = option("Tokens the judge may write per verdict.", 512, at_least=1)


@dataclass
class ReportSection:
    """SuperCLUE-style total: the weighted mean of the tracks a run has (weights of absent tracks drop out)."""

    choice_weight: float = option("Weight of the choice track (accuracy %).", 1.0, at_least=0)
    reference_weight: float = option("Weight of the open track scored by reference metrics (%).", 1.0, at_least=0)
    judge_weight: float = option("Weight of the open track scored by the judge (rating x 10, or win rate %).",
                                1.0, at_least=0)


@dataclass
class EvalConfig(JobOutput):
    model: EvalModelSection = field(default_factory=EvalModelSection)
    benchmark: BenchmarkSection = field(default_factory=BenchmarkSection)
    choice: ChoiceSection = field(default_factory=ChoiceSection)
    generation: EvalGenerationSection = field(default_factory=EvalGenerationSection)
    judge: JudgeSection = field(default_factory=JudgeSection)
    report: ReportSection = field(default_factory=ReportSection)
