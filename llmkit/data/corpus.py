"""Read pretraining text from local files through `datasets`, or generate the built-in corpus."""

from __future__ import annotations

from pathlib import Path

from llmkit.errors import LlmkitError

_BUILDERS = {".txt": "text", ".md": "text", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}


def corpus_files(paths: list[str]) -> dict[str, list[str]]:
    """Group the files named (or found in the folders named) by the `datasets` builder that reads them."""
    by_builder: dict[str, list[str]] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise LlmkitError(f"corpus path {raw} does not exist")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            builder = _BUILDERS.get(file.suffix.lower())
            if builder:
                by_builder.setdefault(builder, []).append(str(file))
            elif not path.is_dir():
                raise LlmkitError(f"corpus file {file} has an unsupported type; use "
                                  f"{', '.join(sorted(_BUILDERS))}")
    if not by_builder:
        raise LlmkitError(f"no corpus files ({', '.join(sorted(_BUILDERS))}) found in {', '.join(paths)}")
    return by_builder


def load_corpus_texts(paths: list[str], text_column: str, *, streaming: bool = False,
                      max_documents: int = 0) -> list[str]:
    """One string per document: a whole .txt/.md file, or one JSONL/Parquet row's `text_column`.

    `streaming` reads the files through `datasets`' iterator instead of converting them to Arrow first
    (for corpora larger than memory or disk cache), stopping once `max_documents` (if set) are read.
    """
    from datasets import load_dataset

    texts: list[str] = []
    for builder, files in corpus_files(paths).items():
        kwargs = {"sample_by": "document"} if builder == "text" else {}
        dataset = load_dataset(builder, data_files=files, split="train", streaming=streaming, **kwargs)
        column = "text" if builder == "text" else text_column
        columns = dataset.column_names or list(next(iter(dataset), {}))
        if column not in columns:
            raise LlmkitError(f"corpus files {files[0]}...: no column {column!r}; found "
                              f"{', '.join(columns)} (set corpus.text_column)")
        for row in dataset.select_columns([column]) if not streaming else dataset:
            text = row[column]
            if isinstance(text, str) and text.strip():
                texts.append(text)
                if max_documents and len(texts) >= max_documents:
                    return texts
    return texts
