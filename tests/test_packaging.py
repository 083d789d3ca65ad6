"""Recipes travel inside the wheel, so `--recipe NAME` works after a non-editable install."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_every_recipe(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("llmkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    recipes = {f"llmkit/recipes/{p.relative_to(ROOT / 'recipes')}" for p in (ROOT / "recipes").rglob("*.yaml")}
    assert recipes and recipes <= names
    assert "llmkit/cli.py" in names
    assert "llmkit/eval/benchmarks/sample/logic.jsonl" in names  # `llmkit eval`'s sample benchmark
