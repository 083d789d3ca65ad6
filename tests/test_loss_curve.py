"""loss_curve.png: every run gets one, and a curve of one point is still visible."""

import matplotlib.axes

from llmkit.plots.loss_curve import LOSS_CURVE, save_loss_curve


def _plotted(monkeypatch):
    calls = []
    plot = matplotlib.axes.Axes.plot

    def recording(self, *args, **kwargs):
        calls.append((kwargs.get("label"), [list(a) for a in args], kwargs.get("marker")))
        return plot(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", recording)
    return calls


def test_a_one_point_curve_is_drawn_as_a_marker(tmp_path, monkeypatch):
    calls = _plotted(monkeypatch)
    assert save_loss_curve([{"step": 2, "loss": 0.9}], tmp_path, "DDPM") == tmp_path / LOSS_CURVE
    assert calls == [("train loss", [[2], [0.9]], "o")]  # a line through one point draws nothing


def test_a_run_shorter_than_its_logging_interval_plots_the_runs_mean_loss(tmp_path, monkeypatch):
    calls = _plotted(monkeypatch)
    history = [{"step": 3, "train_loss": 1.25, "train_runtime": 0.5}]  # Trainer's summary, no logged loss
    assert (save_loss_curve(history, tmp_path, "finetune lora") == tmp_path / LOSS_CURVE)
    assert calls == [("train loss (mean of the run)", [[3], [1.25]], "o")]


def test_a_logged_curve_is_a_line_with_marked_validation_points(tmp_path, monkeypatch):
    calls = _plotted(monkeypatch)
    history = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 2, "eval_loss": 2.5},
               {"step": 2, "train_loss": 2.5}]
    save_loss_curve(history, tmp_path, "pretrain")
    assert calls == [("train loss", [[1, 2], [3.0, 2.0]], None), ("validation loss", [[2], [2.5]], "o")]
