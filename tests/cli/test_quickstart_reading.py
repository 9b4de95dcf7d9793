"""The quick start's reading of its own table (no training: fixed numbers)."""

from keras_mixkd.cli import quickstart


def _rows(teacher, *students):
    rows = [("teacher", {"last_accuracy": teacher, "best_accuracy": teacher})]
    return rows + [(f"s{i}", {"last_accuracy": a, "best_accuracy": a})
                   for i, a in enumerate(students)]


def _metrics(folder, accuracies):
    folder.mkdir()
    lines = ["epoch,val_accuracy"] + [f"{i},{a!r}"
                                      for i, a in enumerate(accuracies)]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_reading_counts_images_and_late_gains(tmp_path):
    runs = [_metrics(tmp_path / "a", [0.5, 0.8, 0.9, 0.95]),
            _metrics(tmp_path / "b", [0.5, 0.7, 0.8, 0.9])]
    text = "\n".join(quickstart.reading(
        _rows(0.99, 0.95, 0.90), runs, 400, 4, "/data/fmnist"))
    # 0.05 of 400 images = 20 images; one image = 0.25 points.
    assert "one image is 0.25 points" in text
    assert "span 5.00 points (20 test images)" in text
    assert "teacher makes 4 errors: digits is nearly saturated" in text
    # Gains over the last two epochs: 0.15 and 0.20, mean 17.50 points.
    assert "+17.50 points" in text
    assert quickstart.COMPARE_COMMAND in text and "RESULTS.md" in text
    assert "(/data/fmnist)" in text
    assert text.endswith(quickstart.RECOMMENDATION)
    assert "classic KD (`mixkd distill --loss=kd --mixing=none`" in text


def test_reading_without_history_or_fashion_mnist(tmp_path):
    text = "\n".join(quickstart.reading(
        _rows(0.80, 0.5, 0.6), [tmp_path / "missing"], 100, 1, None))
    assert "far from converged" in text and "saturated" not in text
    assert "With 1 epochs" in text
    assert "apt-get install dataset-fashion-mnist" in text


def test_late_gain_needs_both_epochs_validated(tmp_path):
    # --validation_freq leaves epochs without val_accuracy (empty cells).
    folder = tmp_path / "sparse"
    folder.mkdir()
    (folder / "metrics.csv").write_text(
        "epoch,val_accuracy\n0,0.5\n1,\n2,0.7\n3,\n4,0.9\n")
    assert quickstart._late_gain(folder) == 0.9 - 0.7
    assert quickstart._late_gain(folder, epochs=1) is None


def test_quickstart_students_are_the_compare_methods():
    """kd and mixkd are defined once, by compare; the quick start runs them."""
    from keras_mixkd.experiments import compare

    runs = {name: settings for name, _, settings in quickstart.STUDENT_RUNS}
    assert runs == {"student": None, "kd": compare.METHODS["kd"].settings,
                    "mixkd": compare.METHODS["mixkd"].settings}
    assert runs["kd"]["temperature"] == 4.0 and runs["kd"]["loss"] == "kd"
    assert (runs["mixkd"]["loss"], runs["mixkd"]["mixing"]) == ("mixstd",
                                                                "pmu")
    labels = [label for _, label, _ in quickstart.STUDENT_RUNS]
    assert labels[1].endswith("KD (T=4)")
