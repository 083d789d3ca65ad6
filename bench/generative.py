"""DCGAN and DDPM on the built-in digits at 32x32, on CPU: sample quality next to real held-out digits.

Each model trains with its recipe in a fresh process, as a user would (`llmkit gan train --recipe
dcgan-digits`, `llmkit diffusion train --recipe ddpm-digits`); the bench times it (wall and the CPU
seconds of the whole process, imports included: on a shared machine the CPU time is the stable number),
then samples with fixed seeds and scores the samples with llmkit's LeNet-5 digit scorer
(llmkit/eval/sample_quality.py): classes covered, mean top-class confidence and the Inception-Score-style
number, next to the same scores on the 359 held-out real digits that neither the scorer nor the
generators saw. Target (issue 6): at least 8 of 10 classes, mean confidence at least 0.8, each model
trained within 15 minutes.

    OMP_NUM_THREADS=1 python bench/generative.py                  # everything (about 15 CPU minutes)
    OMP_NUM_THREADS=1 python bench/generative.py --only dcgan --grids docs/images
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from timed_run import run_llmkit

TRAIN_LIMIT_S = 15 * 60
MIN_CLASSES, MIN_CONFIDENCE = 8, 0.8


def dcgan_samples(output: Path, n: int, seed: int):
    import torch

    from llmkit.workflows.gan import load_generator

    generator = load_generator(str(output))
    with torch.no_grad():
        return generator(generator.sample_latents(n, torch.Generator().manual_seed(seed)))


def ddpm_samples(output: Path, n: int, seed: int, sampler: str, steps: int):
    import numpy as np
    import torch

    from llmkit.config.diffusion import DiffusionSampleConfig
    from llmkit.workflows.diffusion_sample import generate, load_pipeline

    pipe = load_pipeline(str(output), sampler)
    pipe.set_progress_bar_config(disable=True)
    cfg = DiffusionSampleConfig(model=str(output), inference_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    parts = [generate(pipe, cfg, generator, min(250, n - i)) for i in range(0, n, 250)]
    return torch.from_numpy(np.concatenate(parts)).permute(0, 3, 1, 2) * 2 - 1  # [0, 1] NHWC -> [-1, 1] NCHW


def row(name: str, quality, record: dict | None, sampling_s: float | None) -> list[str]:
    met = "-"
    if record is not None:
        ok = (quality.classes_covered >= MIN_CLASSES and quality.mean_confidence >= MIN_CONFIDENCE
              and record["cpu_s"] <= TRAIN_LIMIT_S)
        met = "yes" if ok else "NO"
    return [name, f"{record['metrics']['steps']}" if record else "-",
            f"{record['wall_s']:.0f}" if record else "-", f"{record['cpu_s']:.0f}" if record else "-",
            f"{sampling_s:.0f}" if sampling_s is not None else "-", str(quality.images),
            f"{quality.classes_covered}/10", f"{quality.mean_confidence:.3f}", f"{quality.inception_score:.2f}",
            " ".join(map(str, quality.class_counts)), met]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["dcgan", "ddpm"], nargs="*", help="models to run (default: both)")
    parser.add_argument("--samples", type=int, default=200, help="samples scored per model (DDPM sampler: 60%%)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling noise")
    parser.add_argument("--grids", type=Path, help="copy each model's 8x8 sample grid here (README figures)")
    parser.add_argument("--keep", type=Path, help="train into this folder instead of a temporary one")
    parser.add_argument("--max-steps", type=int, help="train for this many steps instead of the recipe's")
    args = parser.parse_args()
    models = args.only or ["dcgan", "ddpm"]

    import torch

    import llmkit  # noqa: F401  (registers llmkit's model types)
    from llmkit.data.generative_images import to_uint8
    from llmkit.eval.sample_quality import DigitScorer, heldout_digits
    from llmkit.plots.images import save_grid

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    root = args.keep or Path(tempfile.mkdtemp(prefix="llmkit-generative-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    steps = ["--max-steps", str(args.max_steps)] if args.max_steps else []
    scorer = DigitScorer()  # trained once and cached (about 15 CPU seconds the first time)
    rows = [row("real held-out digits", scorer.score(heldout_digits()), None, None)]

    def score(name: str, images, record: dict, sampling_s: float) -> None:
        rows.append(row(name, scorer.score(images), record, sampling_s))
        print(f"{name}: {rows[-1]}", file=sys.stderr, flush=True)
        if args.grids:
            stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            save_grid(to_uint8(images[:64]), args.grids / f"{stem}-digits.png", columns=8, scale=2)

    if "dcgan" in models:
        record = run_llmkit(["gan", "train", "--recipe", "dcgan-digits", "--overwrite", *steps], root / "dcgan", env)
        start = time.process_time()
        images = dcgan_samples(root / "dcgan", args.samples, args.seed)
        score("DCGAN", images, record, time.process_time() - start)
    if "ddpm" in models:
        record = run_llmkit(["diffusion", "train", "--recipe", "ddpm-digits", "--overwrite", *steps], root / "ddpm",
                            env)
        # DDIM with 50 steps, and DDPM's ancestral sampler on 100 of the 1000 training timesteps (diffusers
        # respaces them) for 60% as many images: each of its steps costs as much as a DDIM step.
        for sampler, steps in (("ddim", 50), ("ddpm", 100)):
            start = time.process_time()
            n = args.samples if sampler == "ddim" else max(1, args.samples * 3 // 5)
            images = ddpm_samples(root / "ddpm", n, args.seed, sampler, steps)
            score(f"DDPM, {sampler.upper()} {steps} steps", images, record, time.process_time() - start)

    from llmkit import console

    print(console.table(["samples of", "train steps", "train wall s", "train CPU s", "sampling CPU s", "images",
                         "classes", "mean confidence", "IS (LeNet-5)", "images per digit 0-9",
                         f">= {MIN_CLASSES}/10, >= {MIN_CONFIDENCE}, <= 15 CPU min"], rows))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
