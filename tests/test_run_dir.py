"""Output folders: --overwrite deletes only what an llmkit run wrote, and a model appears only once saved whole."""

import errno
import json
from dataclasses import dataclass

import pytest

from llmkit.errors import LlmkitError
from llmkit.run_dir import RUN_RECORD, RunRecord, check_output_dir, prepare_output_dir, saving_into


@dataclass
class _Job:
    data: str = "train.jsonl"


def _finished_run(folder):
    prepare_output_dir(folder, overwrite=False)
    record = RunRecord(folder, "finetune", _Job())
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "plots").mkdir()
    (folder / "plots" / "loss.png").write_bytes(b"png")
    record.update(status="finished")
    return record


def test_overwrite_replaces_a_finished_run_and_lists_what_it_wrote(tmp_path):
    folder = tmp_path / "out"
    _finished_run(folder)
    written = json.loads((folder / RUN_RECORD).read_text())["written_files"]
    assert written == ["llmkit_recipe.yaml", RUN_RECORD, "model.safetensors", "plots/loss.png"]
    # a killed run's checkpoints are not in its record yet, but are llmkit's
    (folder / "checkpoints" / "step-5").mkdir(parents=True)
    (folder / "checkpoints" / "step-5" / "optimizer.pt").write_bytes(b"state")

    prepare_output_dir(folder, overwrite=True)
    assert folder.is_dir() and not any(folder.iterdir())


def test_overwrite_refuses_a_folder_with_files_no_run_wrote(tmp_path):
    folder = tmp_path / "out"
    _finished_run(folder)
    (folder / "plots" / "my-notes.txt").write_text("keep me")
    with pytest.raises(LlmkitError, match=r"my-notes.txt was not written by the llmkit run"):
        check_output_dir(folder, overwrite=True)
    assert (folder / "model.safetensors").is_file()  # nothing deleted

    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "cat.jpg").write_bytes(b"jpg")
    with pytest.raises(LlmkitError, match=f"holds no {RUN_RECORD}, so no llmkit run wrote it"):
        prepare_output_dir(stranger, overwrite=True)
    assert (stranger / "cat.jpg").is_file()


def test_a_run_record_names_a_job_of_the_table(tmp_path):
    with pytest.raises(KeyError, match="'classic' is not a job in llmkit.jobs.JOBS"):
        RunRecord(tmp_path, "classic", _Job())  # the classic networks' job is "train"
    assert not (tmp_path / RUN_RECORD).exists()


def test_a_save_that_fails_part_way_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(OSError), saving_into(folder) as staging:
        (staging / "config.json").write_text("{}")
        raise OSError(errno.ENOSPC, "No space left on device")  # before the weights were written
    assert list(folder.iterdir()) == []

    (folder / "generator").mkdir()  # an earlier save's folder is replaced whole
    (folder / "generator" / "old.bin").write_bytes(b"old")
    with saving_into(folder) as staging:
        (staging / "generator").mkdir()
        (staging / "generator" / "model.safetensors").write_bytes(b"new")
        (staging / "config.json").write_text("{}")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "config.json", "generator", "generator/model.safetensors"]
