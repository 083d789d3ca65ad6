"""C-Eval's and CMMLU's official subject names, so a prompt names its subject as the exam does ("计算机网络").

`subjects.json` holds, per exam, file stem -> [English name, Chinese name, (group)]: for C-Eval its own
`subject_mapping.json` (52 subjects in 4 groups); for CMMLU its 67 subjects with the Chinese names its
evaluation code and lm-evaluation-harness's CMMLU tasks use (CMMLU's English names are its file stems, here
spelled out). A `subject_mapping.json` in the benchmark folder, in C-Eval's format, overrides these names
(a renamed or an extra subject). MMLU's prompt is English and names the subject by its file stem.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from llmkit.errors import LlmkitError

SUBJECTS_FILE = Path(__file__).resolve().with_name("subjects.json")
MAPPING_FILE = "subject_mapping.json"


@cache
def official_subjects() -> dict[str, dict[str, list[str]]]:
    """{exam style: {file stem: [English, 中文, (group)]}} as shipped."""
    return json.loads(SUBJECTS_FILE.read_text(encoding="utf-8"))


def subject_names(style: str, root: Path) -> dict[str, str]:
    """File stem -> the Chinese name `style`'s prompt uses: the shipped names, then the folder's mapping file."""
    if style not in official_subjects():
        return {}
    names = {stem: entry[1] for stem, entry in official_subjects()[style].items()}
    mapping = root / MAPPING_FILE
    if mapping.is_file():
        try:
            given = json.loads(mapping.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            given = None
        if not isinstance(given, dict) or not all(
                isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[1], str) for entry in given.values()):
            raise LlmkitError(f"{mapping} is not a subject mapping in C-Eval's format "
                              f"({{subject: [English, 中文, group]}})")
        names.update({stem: entry[1] for stem, entry in given.items()})
    return names
