"""The `llmkit` command: one thin function per command (flags -> config -> workflow.run -> summary).

Heavy libraries are imported inside the commands, so `llmkit --help` answers at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from llmkit.errors import LlmkitError, RunInterrupted
from llmkit.jobs import JOBS, Job
from llmkit.quiet import calm_progress_bars, quiet_bitsandbytes, quiet_library_warnings
from llmkit.tuning.methods import METHODS  # a light table: peft and torch load only when a method builds

calm_progress_bars()  # before any command imports tqdm

app = typer.Typer(help="llmkit: pretrain, fine-tune and chat with language models, offline first.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
recipes_app = typer.Typer(help="List and inspect the shipped recipes.", invoke_without_command=True)
app.add_typer(recipes_app, name="recipes")

_state = {"debug": False}
INTERRUPTED = 130  # the exit code of a process ended by SIGINT

SetOption = Annotated[list[str] | None, typer.Option(
    "--set", help="Override any recipe key, e.g. --set train.lr=1e-4 (repeatable).")]
RecipeOption = Annotated[str | None, typer.Option("--recipe", "-r", help="Recipe name or YAML path.")]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Output folder.")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty output folder.")]
EpochsOption = Annotated[float | None, typer.Option("--epochs", help="Training epochs.")]
LrOption = Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")]
BatchSizeOption = Annotated[int | None, typer.Option("--batch-size", help="Examples per device per step.")]
MaxStepsOption = Annotated[int | None, typer.Option("--max-steps", help="Stop after N steps.")]
ReportToOption = Annotated[str | None, typer.Option("--report-to", help="e.g. tensorboard.")]
# Scaling out and sharing: every training command takes these two and hands them to launch.run_job.
NumProcessesOption = Annotated[int, typer.Option(
    "--num-processes", min=1, help="Train on N processes, one per GPU (CPU ranks over gloo without one): "
    "re-launches this command through `accelerate launch`.")]
PushToHubOption = Annotated[str | None, typer.Option(
    "--push-to-hub", help="Upload the finished output to this Hub repo (user/name); token from HF_TOKEN or "
    "the stored login, endpoint from HF_ENDPOINT.")]


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug
    if debug:
        quiet_bitsandbytes(False)
    else:
        quiet_library_warnings()


def _job_config(job: Job, flags: dict[str, Any], *, recipe: str | None = None, sets: list[str] | None = None,
                output: Path | None = None, overwrite: bool = False, resume_run: Path | None = None,
                demo: bool = False) -> Any:
    """defaults < recipe < explicit flags < --set, validated against the job's dataclass.

    `flags` maps config keys to flag values (None: not given). With `resume_run`, the interrupted run's folder
    and its saved recipe; with `demo` and no recipe, the job's demo recipe.
    """
    from llmkit.config import build_config, parse_set_overrides, set_dotted
    from llmkit.recipes import resolve

    if resume_run is not None:
        recipe, output = _resumed_run(job, resume_run, output, recipe)
    if recipe is None and demo:
        recipe = job.demo
    layers: list[dict[str, Any]] = []
    source = "flags"
    if recipe:
        found = resolve(recipe, job=job.name)
        layers.append(found.load())
        source = f"recipe {found.path}"
    given = {**flags, "output": str(output) if output else None, "overwrite": overwrite or None,
             "resume": True if resume_run is not None else None}
    explicit: dict[str, Any] = {}
    for key, value in given.items():
        if value is not None:
            set_dotted(explicit, key, value)
    layers += [explicit, parse_set_overrides(sets or [])]
    return build_config(job.config_class(), *layers, source=source)


def _run(job_name: str, flags: dict[str, Any], *, recipe: str | None = None, sets: list[str] | None = None,
         output: Path | None = None, overwrite: bool = False, resume_run: Path | None = None, demo: bool = False,
         num_processes: int = 1, push_to_hub: str | None = None,
         before_launch: Callable[[Any], None] | None = None) -> None:
    """Every config-driven command: build the job's config (so bad input fails at once, in one process), then
    run the job's run function here or on `num_processes` ranks, and push its output when asked."""
    from llmkit.launch import run_job

    job = JOBS[job_name]
    cfg = _job_config(job, flags, recipe=recipe, sets=sets, output=output, overwrite=overwrite,
                      resume_run=resume_run, demo=demo)
    if before_launch is not None:
        before_launch(cfg)
    run_job(job.run_function(), cfg, num_processes, push_to_hub)


def _resumed_run(job: Job, resume: Path, output: Path | None, recipe: str | None) -> tuple[str, Path]:
    """(recipe, output) of the interrupted run in folder `resume`: its saved recipe, unless --recipe names one."""
    if output is not None and output.resolve() != resume.resolve():
        raise LlmkitError("--resume continues in the run's own folder; leave out --output")
    saved = resume / "llmkit_recipe.yaml"
    if not saved.is_file():
        raise LlmkitError(f"--resume {resume}: no llmkit_recipe.yaml there; pass the output folder of a "
                          f"`llmkit {job.command}` run")
    return recipe or str(saved), resume


ResumeRunOption = Annotated[Path | None, typer.Option("--resume", help=(
    "Continue an interrupted run from its last checkpoint: the run's output folder (its saved recipe "
    "is reused; flags and --set still apply)."))]


@app.command()
def finetune(
    method: Annotated[str | None, typer.Option("--method", "-m", help=(
        f"{', '.join(METHODS)}; `llmkit methods` lists what each trains and its hyperparameters."))] = None,
    task: Annotated[str | None, typer.Option("--task", help="sft (chat data, default) or classify "
                                             "(sequence classification with a new head).")] = None,
    target: Annotated[str | None, typer.Option("--target", help=(
        "Modules the method adapts, comma-separated (e.g. q_proj,v_proj), or all-linear; "
        "default: the model family's table entry."))] = None,
    model: Annotated[str | None, typer.Option("--model", help="Base model folder or Hub id "
                                              "(default: llmkit's built-in base).")] = None,
    data: Annotated[str | None, typer.Option("--data", help="Training data file or folder "
                                             "(default: built-in bilingual demo tasks).")] = None,
    eval_data: Annotated[str | None, typer.Option("--eval-data", help="Held-out data for exact match.")] = None,
    recipe: RecipeOption = None,
    output: OutputOption = None,
    overwrite: OverwriteOption = False,
    epochs: EpochsOption = None,
    lr: LrOption = None,
    batch_size: BatchSizeOption = None,
    max_steps: MaxStepsOption = None,
    report_to: ReportToOption = None,
    trust_remote_code: Annotated[bool | None, typer.Option(
        "--trust-remote-code", help="Run code shipped with the model (only for sources you trust).")] = None,
    resume: ResumeRunOption = None,
    num_processes: NumProcessesOption = 1,
    push_to_hub: PushToHubOption = None,
    set_: SetOption = None,
) -> None:
    """Fine-tune a model with any of 11 methods; with no arguments, LoRA on the built-in demo."""
    flags = {"method": method, "task": task, "model.path": model, "data.path": data, "data.eval_path": eval_data,
             "train.epochs": epochs, "train.lr": lr, "train.batch_size": batch_size, "train.max_steps": max_steps,
             "train.report_to": [report_to] if report_to else None, "model.trust_remote_code": trust_remote_code}
    # The built-in model and data come with their own settings: the demo recipe.
    where = {"recipe": recipe, "sets": set_, "output": output, "overwrite": overwrite, "resume_run": resume,
             "demo": model is None and data is None and task in (None, "sft")}
    if target is not None:
        from llmkit.tuning.methods import get_method

        chosen = get_method(method or _job_config(JOBS["finetune"], {}, **where).method)
        if chosen.target_key is None:
            raise LlmkitError(f"--target does not apply to --method {chosen.name}, which adapts no modules")
        flags[chosen.target_key] = [t.strip() for t in target.split(",") if t.strip()]
    _run("finetune", flags, **where, num_processes=num_processes, push_to_hub=push_to_hub,
         before_launch=_build_builtin_base_once if num_processes > 1 else None)


def _build_builtin_base_once(cfg: Any) -> None:
    """The ranks of a multi-process run cannot pretrain the built-in base between them: build it here first."""
    if cfg.model.path is None:
        from llmkit.workflows.builtin_base import ensure_builtin_base

        ensure_builtin_base()


@app.command()
def pretrain(
    arch: Annotated[str | None, typer.Option("--arch", help="gpt2 or llama (causal LM), bert (masked LM).")] = None,
    preset: Annotated[str | None, typer.Option("--preset", help=(
        "Model shape: tiny (~1.3M parameters), small (~9M), gpt2-124m; any arch.* key overrides it."))] = None,
    data: Annotated[list[str] | None, typer.Option("--data", help=(
        "Corpus files or folders: .txt/.md (one document per file), .jsonl/.json/.parquet (a text column); "
        "repeatable. Default: the built-in bilingual corpus."))] = None,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help=(
        "Reuse this tokenizer folder instead of training one on the corpus."))] = None,
    resume: ResumeRunOption = None,
    recipe: RecipeOption = None,
    output: OutputOption = None,
    overwrite: OverwriteOption = False,
    max_steps: MaxStepsOption = None,
    batch_size: BatchSizeOption = None,
    lr: LrOption = None,
    num_processes: NumProcessesOption = 1,
    push_to_hub: PushToHubOption = None,
    set_: SetOption = None,
) -> None:
    """Pretrain a GPT-2, LLaMA or BERT model and its tokenizer from scratch."""
    _run("pretrain", {"arch.type": arch, "arch.preset": preset, "corpus.path": data, "tokenizer.path": tokenizer,
                      "train.max_steps": max_steps, "train.batch_size": batch_size, "train.lr": lr},
         recipe=recipe, sets=set_, output=output, overwrite=overwrite, resume_run=resume,
         num_processes=num_processes, push_to_hub=push_to_hub)


@app.command()
def merge(
    adapter: Annotated[str, typer.Argument(help="Output folder of `llmkit finetune` (or a peft adapter).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the merged model.")],
    base: Annotated[str | None, typer.Option("--base", help="Base model (default: the adapter's).")] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Merge an adapter into its base model and save a standalone model."""
    _run("merge", {"adapter": adapter, "base": base}, output=output, overwrite=overwrite)


@app.command()
def chat(
    model: Annotated[str, typer.Argument(help="Model folder or Hub id (or an adapter folder).")],
    adapter: Annotated[str | None, typer.Option("--adapter", help="Adapter folder to apply.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="Ask once and exit.")] = None,
    system: Annotated[str | None, typer.Option("--system", help="System prompt.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Longest answer.")] = 256,
    temperature: Annotated[float, typer.Option("--temperature", help="0: greedy.")] = 0.0,
    trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code")] = False,
) -> None:
    """Chat with a model, streaming the answer; one-shot with --prompt, interactive otherwise."""
    from llmkit.inference.chat_session import ChatSession

    session = ChatSession.load(model, adapter=adapter, system=system, max_new_tokens=max_new_tokens,
                               temperature=temperature, trust_remote_code=trust_remote_code)
    if prompt is not None:
        session.ask(prompt)
        return
    session.interactive()


@app.command()
def push(
    folder: Annotated[Path, typer.Argument(help="Output folder of an llmkit run (adapter, model, pipeline).")],
    repo: Annotated[str, typer.Option("--repo", help="Hub repo id, owner/name (created if missing).")],
    private: Annotated[bool, typer.Option("--private", help="Create the repo as private.")] = False,
    revision: Annotated[str | None, typer.Option("--revision", help="Branch to push to (created if missing).")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="Hub URL (default: HF_ENDPOINT, else "
                                                 "https://huggingface.co).")] = None,
    license: Annotated[str, typer.Option("--license", help="License id for the model card.")] = "apache-2.0",
    include_checkpoints: Annotated[bool, typer.Option("--include-checkpoints", help=(
        "Also upload Trainer checkpoints (never their optimizer states)."))] = False,
) -> None:
    """Upload an output folder to the Hub with a generated model card; never optimizer states or secrets."""
    from llmkit.hub.push import HubTarget

    target = HubTarget.from_environment(repo, endpoint=endpoint, private=private, revision=revision)
    target.push(folder, include_checkpoints=include_checkpoints, license=license)


@app.command()
def methods(name: Annotated[str | None, typer.Argument(help="Show one method's hyperparameters in full.")] = None,
            ) -> None:
    """List the fine-tuning methods: what each trains, its hyperparameters (recipe keys) and its paper."""
    from llmkit import console
    from llmkit.config.finetune import FinetuneConfig
    from llmkit.tuning.methods import get_method

    defaults = FinetuneConfig()
    if name is not None:
        m = get_method(name)
        console.info(f"{m.name}: {m.help}\npaper: {m.paper}\nmerge: {m.unmergeable_reason() or 'yes'}\n"
                     f"learning rate: {m.lr:g} (train.lr when neither the recipe nor --lr sets one)\n")
        params = m.hyperparameters(defaults)
        console.info(console.table(["key", "default", "meaning"], [[k, str(v), h] for k, v, h in params])
                     if params else "no hyperparameters")
        return
    rows = []
    for m in METHODS.values():
        params = ", ".join(f"{key}={value}" for key, value, _ in m.hyperparameters(defaults))
        rows.append([m.name, m.help, f"{m.lr:g}", params or "-", "no" if m.unmergeable_reason() else "yes", m.paper])
    console.info(console.table(["method", "what it trains", "lr", "hyperparameters (defaults)", "merge", "paper"],
                               rows))
    console.info("\nEach hyperparameter is a recipe key (`--set lora.r=8`); `llmkit recipes show NAME` "
                 "prints their help.")


@recipes_app.callback()
def recipes_list(ctx: typer.Context) -> None:
    """List the shipped recipes, one line each."""
    if ctx.invoked_subcommand:
        return
    from llmkit import console
    from llmkit.recipes import all_recipes

    console.info(console.table(["recipe", "command", "description"],
                               [[r.key, f"llmkit {JOBS[r.job].command}", r.description] for r in all_recipes()]))


@recipes_app.command("show")
def recipes_show(name: Annotated[str, typer.Argument(help="Recipe name or path.")]) -> None:
    """Print a recipe resolved over the defaults (every key, as the job will see it)."""
    from llmkit import console
    from llmkit.config import build_config, to_yaml
    from llmkit.recipes import resolve

    found = resolve(name)
    if found.job is None:
        folders = ", ".join(f"{j.recipes}/" for j in JOBS.values() if j.recipes)
        raise LlmkitError(f"recipe {name} is not in a job's recipe folder ({folders}), so its job is unknown; "
                          f"pass it to its command with --recipe instead")
    job = JOBS[found.job]
    console.info(f"# {found.key} ({found.path}): llmkit {job.command} --recipe {found.key}")
    console.info(to_yaml(build_config(job.config_class(), found.load(), source=f"recipe {found.path}")).rstrip())


@app.command()
def env() -> None:
    """Print versions, the device, bf16 support and bitsandbytes availability."""
    from llmkit import console
    from llmkit.environment import describe_environment

    console.info(console.table(["item", "value"], [[k, v] for k, v in describe_environment().items()]))


@app.command()
def train(
    model: Annotated[str | None, typer.Option("--model", help="Model from `llmkit models` (default: lenet5).")] = None,
    data: Annotated[str | None, typer.Option("--data", help="digits, xor, an image folder, .csv or .npz of "
                                             "numbers, .csv/.jsonl of texts (RNNs), or a .txt corpus "
                                             "(character LM). Default: digits.")] = None,
    recipe: RecipeOption = None,
    output: OutputOption = None,
    overwrite: OverwriteOption = False,
    epochs: EpochsOption = None,
    lr: LrOption = None,
    batch_size: BatchSizeOption = None,
    max_steps: MaxStepsOption = None,
    report_to: ReportToOption = None,
    num_processes: NumProcessesOption = 1,
    push_to_hub: PushToHubOption = None,
    set_: SetOption = None,
) -> None:
    """Train a classic network (MLP, LeNet-5, AlexNet, VGG, GoogLeNet, ResNet, RNN/LSTM/GRU) with Trainer."""
    _run("train", {"model.name": model, "data.path": data, "train.epochs": epochs, "train.lr": lr,
                   "train.batch_size": batch_size, "train.max_steps": max_steps,
                   "train.report_to": [report_to] if report_to else None},
         recipe=recipe, sets=set_, output=output, overwrite=overwrite, demo=model is None and data is None,
         num_processes=num_processes, push_to_hub=push_to_hub)


@app.command()
def models() -> None:
    """List the classic models with their parameter counts (built on the meta device).

    Paper-size presets count 3 input channels and 1000 classes, `-small` ones 10 classes; `llmkit train`
    sizes the input layer and the head from the data.
    """
    from llmkit import console
    from llmkit.models.classic.registry import model_table

    console.info(console.table(["model", "input", "params", "at inference", "what it is"], model_table()))


# ----------------------------------------------------------------------------------------------
# Generative models: `llmkit gan train|sample`, `llmkit diffusion train|sample|finetune`

gan_app = typer.Typer(help="DCGAN (Radford et al. 2015): train on digits or an image folder, sample.",
                      no_args_is_help=True)
app.add_typer(gan_app, name="gan")
diffusion_app = typer.Typer(help="Diffusion with diffusers: train a DDPM, sample any pipeline, LoRA-tune "
                            "a text-to-image UNet.", no_args_is_help=True)
app.add_typer(diffusion_app, name="diffusion")
ImageDataOption = Annotated[str | None, typer.Option("--data", help="digits (built in) or a folder of images.")]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Seed: the same seed gives the same images.")]
NumSamplesOption = Annotated[int | None, typer.Option("--num-samples", "-n", help="Images to generate.")]
ResumeOption = Annotated[str | None, typer.Option("--resume", help="Checkpoint folder, or 'latest' in --output.")]


@gan_app.command("train")
def gan_train(data: ImageDataOption = None, recipe: RecipeOption = None, output: OutputOption = None,
              overwrite: OverwriteOption = False, epochs: EpochsOption = None, batch_size: BatchSizeOption = None,
              max_steps: MaxStepsOption = None, seed: SeedOption = None, resume: ResumeOption = None,
              num_processes: NumProcessesOption = 1, push_to_hub: PushToHubOption = None,
              set_: SetOption = None) -> None:
    """Train a DCGAN with accelerate; without --recipe or --data, the dcgan-digits recipe."""
    _run("gan", {"data.path": data, "train.epochs": epochs, "train.batch_size": batch_size,
                 "train.max_steps": max_steps, "train.seed": seed, "train.resume": resume},
         recipe=recipe, sets=set_, output=output, overwrite=overwrite, demo=data is None,
         num_processes=num_processes, push_to_hub=push_to_hub)


@gan_app.command("sample")
def gan_sample(model: Annotated[str, typer.Option("--model", help="A `llmkit gan train` output folder.")],
               num_samples: NumSamplesOption = None, seed: SeedOption = None, output: OutputOption = None,
               overwrite: OverwriteOption = False, set_: SetOption = None) -> None:
    """Generate images with a trained DCGAN generator: one PNG each and a grid."""
    _run("gan-sample", {"model": model, "num_samples": num_samples, "seed": seed},
         sets=set_, output=output, overwrite=overwrite)


@diffusion_app.command("train")
def diffusion_train(data: ImageDataOption = None, recipe: RecipeOption = None, output: OutputOption = None,
                    overwrite: OverwriteOption = False, epochs: EpochsOption = None, lr: LrOption = None,
                    batch_size: BatchSizeOption = None, max_steps: MaxStepsOption = None, seed: SeedOption = None,
                    resume: ResumeOption = None, num_processes: NumProcessesOption = 1,
                    push_to_hub: PushToHubOption = None, set_: SetOption = None) -> None:
    """Train an unconditional DDPM (UNet2DModel + DDPMScheduler, EMA); the output is a DDPMPipeline folder."""
    _run("diffusion", {"data.path": data, "train.epochs": epochs, "train.lr": lr, "train.batch_size": batch_size,
                       "train.max_steps": max_steps, "train.seed": seed, "train.resume": resume},
         recipe=recipe, sets=set_, output=output, overwrite=overwrite, demo=data is None,
         num_processes=num_processes, push_to_hub=push_to_hub)


@diffusion_app.command("sample")
def diffusion_sample(
    model: Annotated[str, typer.Option("--model", help="A diffusers pipeline folder (unconditional or "
                                       "text-to-image).")],
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="Text prompt (text-to-image).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="pipeline, ddpm, ddim, pndm, euler, "
                                                  "euler-ancestral, dpm++, unipc.")] = None,
    inference_steps: Annotated[int | None, typer.Option("--inference-steps", help="Denoising steps.")] = None,
    guidance_scale: Annotated[float | None, typer.Option("--guidance-scale", help="Classifier-free guidance "
                                                         "(text-to-image).")] = None,
    lora: Annotated[str | None, typer.Option("--lora", help="LoRA folder from `llmkit diffusion finetune`.")] = None,
    num_samples: NumSamplesOption = None, seed: SeedOption = None, output: OutputOption = None,
    overwrite: OverwriteOption = False, set_: SetOption = None,
) -> None:
    """Generate images with a diffusers pipeline from a local folder, with the sampler of your choice."""
    _run("diffusion-sample", {"model": model, "prompt": prompt, "scheduler": scheduler,
                              "inference_steps": inference_steps, "guidance_scale": guidance_scale, "lora": lora,
                              "num_samples": num_samples, "seed": seed},
         sets=set_, output=output, overwrite=overwrite)


@diffusion_app.command("finetune")
def diffusion_finetune(
    model: Annotated[str | None, typer.Option("--model", help="Text-to-image pipeline folder "
                                              "(Stable Diffusion layout).")] = None,
    data: Annotated[str | None, typer.Option("--data", help="digits (captioned 'a handwritten digit N') or an "
                                             "image folder with captions (metadata.jsonl) or class "
                                             "subfolders.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="Validation prompt for the grids.")] = None,
    recipe: RecipeOption = None, output: OutputOption = None, overwrite: OverwriteOption = False,
    epochs: EpochsOption = None, lr: LrOption = None, batch_size: BatchSizeOption = None,
    max_steps: MaxStepsOption = None, seed: SeedOption = None, resume: ResumeOption = None,
    num_processes: NumProcessesOption = 1, push_to_hub: PushToHubOption = None, set_: SetOption = None,
) -> None:
    """LoRA fine-tuning of a text-to-image pipeline's UNet through peft; saves diffusers LoRA weights."""
    _run("diffusion-lora", {"model": model, "data.path": data, "prompt": prompt, "train.epochs": epochs,
                            "train.lr": lr, "train.batch_size": batch_size, "train.max_steps": max_steps,
                            "train.seed": seed, "train.resume": resume},
         recipe=recipe, sets=set_, output=output, overwrite=overwrite,
         num_processes=num_processes, push_to_hub=push_to_hub)


eval_app = typer.Typer(help="Evaluate a model on benchmarks, SuperCLUE style; `llmkit eval compare` ranks runs.",
                       invoke_without_command=True)
app.add_typer(eval_app, name="eval")


@eval_app.callback()
def evaluate(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="Model folder, merged model, `llmkit finetune` "
                                              "output or Hub id (default: llmkit's built-in base).")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="Fine-tuning output to apply to --model.")] = None,
    data: Annotated[list[str] | None, typer.Option("--data", help=(
        "sample, demo-task, a path, or FORMAT=PATH (llmkit, ceval, cmmlu, mmlu, afqmc, tnews, csl); repeatable. "
        "Default: sample and demo-task."))] = None,
    split: Annotated[str | None, typer.Option("--split", help="Split to score (default per format).")] = None,
    shots: Annotated[int | None, typer.Option("--shots", help="k-shot examples from the dev split.")] = None,
    choice_scoring: Annotated[str | None, typer.Option("--choice-scoring", help=(
        "How choice items are scored: all (default: generated letter counts, log-likelihoods recorded), "
        "loglik (log P(' A').. only, as lm-eval), loglik-option (option texts only) or generate."))] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N items per category.")] = None,
    categories: Annotated[str | None, typer.Option("--categories", help="Comma-separated categories "
                                                   "or prefixes (e.g. ceval/,logic).")] = None,
    judge: Annotated[str | None, typer.Option("--judge", help="A judge for open answers: a local model folder, "
                                              "or an OpenAI-compatible URL (with --set judge.model=NAME).")] = None,
    batch_size: BatchSizeOption = None,
    recipe: RecipeOption = None,
    output: OutputOption = None,
    overwrite: OverwriteOption = False,
    set_: SetOption = None,
) -> None:
    """Evaluate a model; with no arguments, the built-in base model on the sample benchmark and the built-in task."""
    if ctx.invoked_subcommand:
        return
    flags: dict[str, Any] = {"model.path": model, "model.adapter": adapter, "benchmark.sources": data,
                             "benchmark.split": split, "choice.shots": shots, "benchmark.limit": limit,
                             "benchmark.categories": categories,  # the config splits a comma-separated list
                             "generation.batch_size": batch_size}
    if choice_scoring is not None:
        from llmkit.eval.choice import CHOICE_SCORINGS

        if choice_scoring not in CHOICE_SCORINGS:
            raise LlmkitError(f"--choice-scoring {choice_scoring} is not one of {', '.join(CHOICE_SCORINGS)}")
        flags["choice.methods"], flags["choice.primary"] = CHOICE_SCORINGS[choice_scoring]
    if judge is not None:
        is_url = judge.startswith(("http://", "https://"))
        flags.update({"judge.kind": "http" if is_url else "local", "judge.url" if is_url else "judge.model": judge})
    _run("eval", flags, recipe=recipe, sets=set_, output=output, overwrite=overwrite)


@eval_app.command("compare")
def eval_compare(
    runs: Annotated[list[str], typer.Argument(help="`llmkit eval` output folders.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write leaderboard.md/.json/.png "
                                                "here.")] = None,
) -> None:
    """A leaderboard across eval runs: totals, tracks and the categories they share."""
    from llmkit import console
    from llmkit.eval.leaderboard import build_leaderboard, leaderboard_table, write_leaderboard

    board = build_leaderboard(runs)
    console.info(leaderboard_table(board))
    if board["categories_left_out"]:
        console.info(f"\ncategories not in every run, left out: {', '.join(board['categories_left_out'])}")
    if output is not None:
        write_leaderboard(board, output)
        console.info(f"saved to {output}")


def _close_process_group() -> None:
    """Destroy the process group a multi-process run opened while the interpreter is still whole. Left to
    interpreter shutdown, gloo's worker threads can abort a rank that finished its work ("terminate called
    without an active exception", pytorch issue 190489; seen here under load). Only after success: a rank
    that failed while others are in a collective would hang in the destroy."""
    dist = sys.modules.get("torch.distributed")  # no torch import for commands that never loaded it
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _close_open_records(status: str, **fields: Any) -> None:
    """Mark the runs this command left open as ended (run_dir is imported only when a command stops early)."""
    from llmkit.run_dir import close_open_records

    close_open_records(status, **fields)


def main() -> None:
    try:
        code = app(standalone_mode=False)  # typer turns Ctrl-C outside a training loop into 130
        if code == INTERRUPTED:
            _close_open_records("interrupted")
            print("interrupted", file=sys.stderr)
            sys.exit(INTERRUPTED)
        _close_process_group()
        if code:
            sys.exit(code)
    except RunInterrupted as e:
        print(f"interrupted: {e}", file=sys.stderr)
        sys.exit(INTERRUPTED)
    except LlmkitError as e:
        _close_open_records("failed", error=str(e))
        if _state["debug"]:
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except typer.TyperException as e:  # bad flags: typer's own usage error
        e.show()
        sys.exit(2)
    except typer.Abort:  # Ctrl-D at a prompt
        print("aborted", file=sys.stderr)
        sys.exit(INTERRUPTED)
    except Exception as e:  # a bug: the traceback is for us, but the run record says the run failed
        _close_open_records("failed", error=f"{type(e).__name__}: {e}")
        raise
