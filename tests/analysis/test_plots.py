"""Every plot writes a readable, non-empty PNG."""

import numpy as np
import pytest

from keras_mixkd import analysis
from tests.helpers import IMAGE_SHAPE
from tests.helpers import tiny_model

# Plotting is optional: matplotlib is not a dependency of the core package.
pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5000


def _logits(n=200, classes=10, scale=1.0, seed=0):
    return scale * np.random.default_rng(seed).normal(size=(n, classes))


def test_reliability_diagram(tmp_path):
    logits = _logits(scale=3.0)
    labels = np.random.default_rng(1).integers(0, 10, 200)
    path = tmp_path / "sub" / "reliability.png"
    stats = analysis.reliability_diagram(labels, analysis.softmax(logits),
                                         path=path)
    _check_png(path)
    assert stats["ece"] > 0


def test_robustness_curve_of_a_model(tmp_path):
    images = np.random.default_rng(0).uniform(size=(16, *IMAGE_SHAPE))
    labels = np.arange(16) % 5
    path = tmp_path / "curve.png"
    analysis.robustness_curve(tiny_model("m"), images.astype("float32"),
                              labels, [0.0, 2 / 255, 8 / 255], path=path)
    _check_png(path)


def test_robustness_curves(tmp_path):
    path = tmp_path / "robustness.png"
    analysis.plot_robustness_curves(
        {"teacher": {0.0: 0.9, 0.01: 0.5, 0.03: 0.1},
         "mixup teacher": {0.0: 0.88, 0.01: 0.6, 0.03: 0.2}}, path)
    _check_png(path)


@pytest.mark.parametrize("classes", [5, 15, 100])
def test_tsne_scatter(tmp_path, classes):
    rng = np.random.default_rng(0)
    path = tmp_path / "tsne.png"
    analysis.plot_tsne(rng.normal(size=(300, 2)),
                       rng.integers(0, classes, 300), path)
    _check_png(path)


def test_smoothness_comparison(tmp_path):
    path = tmp_path / "smoothness.png"
    figure = analysis.plot_smoothness_comparison(
        {"teacher": _logits(scale=3.0), "mixup teacher": _logits(seed=1)},
        path)
    _check_png(path)
    assert len(figure.axes) == 3


def test_heatmap(tmp_path):
    values = np.array([[71.2, 72.0, np.nan], [70.1, 70.9, 71.5]])
    path = tmp_path / "heatmap.png"
    analysis.plot_heatmap(values, ["T=1", "T=4"],
                          ["no mixup", "PMU", "FMU"], path,
                          "Student accuracy (%)", "{:.1f}",
                          xlabel="student mixup", ylabel="temperature",
                          colorbar_label="accuracy (%)")
    _check_png(path)
    callable_format = tmp_path / "heatmap2.png"
    analysis.plot_heatmap(values / 100, ["a", "b"], ["c", "d", "e"],
                          callable_format, "Fractions",
                          value_format=lambda v: f"{100 * v:.0f}%")
    _check_png(callable_format)
    with pytest.raises(ValueError, match="labels"):
        analysis.plot_heatmap(values, ["a"], ["b"], None, "bad")


def test_heatmap_notes_go_under_the_values(tmp_path):
    values = np.array([[71.2, 72.0, np.nan], [10.0, 70.9, 71.5]])
    notes = [["KD cell", "+0.80 [+0.10, +1.50] *", "no run"],
             [None, "", "-0.30 [-1.20, +0.60]"]]
    path = tmp_path / "notes.png"
    figure = analysis.plot_heatmap(values, ["a", "b"], ["c", "d", "e"], path,
                                   "Accuracy", "{:.1f}", notes=notes)
    _check_png(path)
    texts = {t.get_text(): t for t in figure.axes[0].texts}
    assert set(texts) == {"71.2", "72.0", "10.0", "70.9", "71.5", "KD cell",
                          "+0.80 [+0.10, +1.50] *", "no run",
                          "-0.30 [-1.20, +0.60]"}
    note, value = texts["-0.30 [-1.20, +0.60]"], texts["71.5"]
    assert note.get_fontsize() < value.get_fontsize()
    assert note.get_position()[1] > value.get_position()[1]  # below: y down
    assert note.get_color() == value.get_color()
    # The lowest value's cell is dark (viridis): white text; a note on a
    # missing (light gray) cell is black.
    assert texts["10.0"].get_color() == "white"
    assert texts["no run"].get_color() == "black"
    plain = analysis.plot_heatmap(values, ["a", "b"], ["c", "d", "e"], None,
                                  "Accuracy", notes=[["", None, ""]] * 2)
    assert len(plain.axes[0].texts) == 5
    assert plain.get_size_inches()[0] < figure.get_size_inches()[0]
    with pytest.raises(ValueError, match="`notes` has shape"):
        analysis.plot_heatmap(values, ["a", "b"], ["c", "d", "e"], None,
                              "bad", notes=[["x"]])


def test_training_curves(tmp_path):
    path = tmp_path / "curves.png"
    fig = analysis.plot_training_curves(
        [("Accuracy", {"val_accuracy": ([1, 2, 3], [0.2, 0.5, 0.6])}),
         ("Loss", {"loss": ([1, 2, 3], [2.0, 1.2, 0.9]),
                   "val_loss": ([1, 2, 3], [2.1, 1.4, 1.1])})],
        path, "Run")
    _check_png(path)
    accuracy, loss = fig.axes
    assert accuracy.get_ylabel() == "Accuracy" and len(loss.lines) == 2
    np.testing.assert_array_equal(loss.lines[1].get_ydata(), [2.1, 1.4, 1.1])


def test_method_comparison(tmp_path):
    from keras_mixkd.experiments import statistics

    rows = [{"method": m, "seed": s,
             "test_accuracy": a + 0.003 * s * (m == "kd")}
            for m, a in (("kd", 0.90), ("mixkd", 0.91), ("alone", 0.89))
            for s in range(3)]
    rows.append({"method": "one", "seed": 0, "test_accuracy": 0.905})
    summary = statistics.summarize(rows, baseline="kd")
    path = tmp_path / "comparison.png"
    figure = analysis.plot_method_comparison(summary, path)
    _check_png(path)
    means, diffs = figure.axes
    assert [t.get_text() for t in means.get_xticklabels()][3] == "one\n(n=1)"
    # One marker per method on the left; the right panel's first marker is
    # the baseline at 0.
    assert len(means.lines) >= 4
    assert diffs.lines[0].get_ydata()[0] == pytest.approx(0.0)


def test_training_curves_leave_out_epochs_without_the_metric(tmp_path):
    # --validation_freq: epochs 2 and 3 were not validated (None).
    fig = analysis.plot_training_curves(
        [("Accuracy", {"val": ([1, 2, 3, 4], [0.5, None, None, 0.8]),
                       "never": ([1, 2], [None, None])})],
        tmp_path / "curves.png")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert list(lines["val"].get_xdata()) == [1, 4]
    assert list(lines["val"].get_ydata()) == [0.5, 0.8]
    assert len(lines["never"].get_xdata()) == 0
    assert (tmp_path / "curves.png").is_file()
