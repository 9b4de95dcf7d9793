"""Figures of the analyses, written as PNG files.

Every function draws on a standalone `matplotlib.figure.Figure` rendered by
the Agg backend (no pyplot state, no display needed, the global backend is
left alone), labels it (title, axis labels, legend or colorbar), writes it
to ``path`` when one is given, and returns the figure (which a notebook
displays). matplotlib is imported only when a figure is drawn.
"""

import pathlib

import numpy as np

from keras_mixkd.analysis import smoothness

_TITLE_SIZE = 13
_LABEL_SIZE = 11
_TICK_SIZE = 10
_DPI = 150


def _figure(nrows=1, ncols=1, figsize=(6.0, 4.5), **subplot_kw):
    """A standalone Agg figure and its axes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            "Plotting needs matplotlib: `pip install matplotlib`.") from e
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)


def _colormap(name):
    import matplotlib

    return matplotlib.colormaps[name]


def _label(ax, title=None, xlabel=None, ylabel=None):
    if title:
        ax.set_title(title, fontsize=_TITLE_SIZE)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=_LABEL_SIZE)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=_LABEL_SIZE)
    ax.tick_params(labelsize=_TICK_SIZE)


def _save(fig, path, title=None):
    """Adds the figure title, lays out, writes ``path`` (if any)."""
    if title:
        fig.suptitle(title, fontsize=_TITLE_SIZE + 1)
    fig.tight_layout()
    if path is not None:
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=_DPI, format="png")
    return fig


def plot_reliability_diagram(stats, path, title="Reliability diagram"):
    """Reliability diagram: accuracy per confidence bin, with a count panel.

    Args:
        stats: the dict of `keras_mixkd.analysis.reliability_diagram`
            (``edges``, ``accuracy``, ``confidence``, ``counts``, ``ece``).
        path: PNG file to write (None: only return the figure).
        title: figure title.

    Returns:
        The `matplotlib.figure.Figure`.

    Example:

    >>> plot_reliability_diagram(reliability_diagram(y, probs), "rel.png")
    """
    edges = np.asarray(stats["edges"])
    centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    accuracy = np.nan_to_num(stats["accuracy"])
    confidence = np.where(stats["counts"] > 0,
                          np.nan_to_num(stats["confidence"]), accuracy)
    fig, axes = _figure(2, 1, figsize=(5.5, 6.5),
                        gridspec_kw={"height_ratios": [3, 1]})
    top, bottom = axes[0, 0], axes[1, 0]
    top.bar(centers, accuracy, width, color="tab:blue", edgecolor="black",
            label="Accuracy")
    top.bar(centers, confidence - accuracy, width, bottom=accuracy,
            color="tab:red", alpha=0.3, edgecolor="tab:red", hatch="//",
            label="Gap to confidence")
    top.plot([0, 1], [0, 1], "k--", label="Perfect calibration")
    if "ece" in stats:
        top.plot([], [], " ", label=f"ECE = {100 * stats['ece']:.2f}%")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.legend(loc="upper left", fontsize=_TICK_SIZE)
    _label(top, title, ylabel="Accuracy")
    bottom.bar(centers, stats["counts"], width, color="tab:gray",
               edgecolor="black")
    bottom.set_xlim(0, 1)
    _label(bottom, xlabel="Confidence (max probability)", ylabel="Samples")
    return _save(fig, path)


def plot_robustness_curves(curves, path, title="Accuracy under attack",
                           xlabel="epsilon (pixels)",
                           ylabel="Top-1 accuracy", epsilon_scale=1.0):
    """Accuracy against attack budget, one line per model.

    Args:
        curves: ``{name: {epsilon: accuracy}}`` (several models), or a single
            ``{epsilon: accuracy}`` as `robustness_curve` returns.
        path: PNG file to write (None: only return the figure).
        title: figure title.
        xlabel: x-axis label (the budget's units).
        ylabel: y-axis label.
        epsilon_scale: the x axis shows ``epsilon * epsilon_scale`` (255
            shows [0, 1] budgets in 1/255 units).

    Returns:
        The `matplotlib.figure.Figure`.

    Example:

    >>> plot_robustness_curves({"teacher": c1, "mixup teacher": c2}, "r.png")
    """
    if curves and not isinstance(next(iter(curves.values())), dict):
        curves = {"model": curves}
    fig, axes = _figure()
    ax = axes[0, 0]
    for name, curve in curves.items():
        epsilons = sorted(curve)
        ax.plot(np.multiply(epsilons, epsilon_scale),
                [curve[e] for e in epsilons], marker="o",
                linewidth=2, label=name)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=_TICK_SIZE)
    _label(ax, title, xlabel, ylabel)
    return _save(fig, path)


def plot_tsne(embedding, labels, path, title="t-SNE of penultimate features",
              class_names=None):
    """Scatter plot of a 2-D embedding, coloured by class.

    Up to 20 classes get a categorical palette and a legend; more (CIFAR-100)
    a continuous colormap and a colorbar of class indices.

    Args:
        embedding: ``(N, 2)`` points (`tsne_embedding`).
        labels: ``(N,)`` integer classes, or None for one colour.
        path: PNG file to write (None: only return the figure).
        title: figure title.
        class_names: optional names indexed by class, for the legend.

    Returns:
        The `matplotlib.figure.Figure`.

    Example:

    >>> plot_tsne(*tsne_embedding(features, labels), "tsne.png")
    """
    embedding = np.asarray(embedding)
    fig, axes = _figure(figsize=(7.0, 6.0))
    ax = axes[0, 0]
    point_size = max(2.0, min(20.0, 4000.0 / max(len(embedding), 1)))
    if labels is None:
        ax.scatter(embedding[:, 0], embedding[:, 1], s=point_size)
    else:
        labels = np.asarray(labels).astype(int)
        classes = np.unique(labels)
        if len(classes) <= 20:
            palette = "tab10" if len(classes) <= 10 else "tab20"
            colors = _colormap(palette).colors
            for i, c in enumerate(classes):
                name = class_names[c] if class_names is not None else str(c)
                points = embedding[labels == c]
                ax.scatter(points[:, 0], points[:, 1], s=point_size,
                           color=colors[i % len(colors)], label=name)
            ax.legend(title="Class", fontsize=_TICK_SIZE - 1,
                      markerscale=max(1.0, 30.0 / point_size) ** 0.5,
                      loc="center left", bbox_to_anchor=(1.01, 0.5))
        else:
            points = ax.scatter(embedding[:, 0], embedding[:, 1],
                                c=labels, cmap="turbo", s=point_size)
            fig.colorbar(points, ax=ax).set_label("Class", fontsize=_LABEL_SIZE)
    _label(ax, title, "t-SNE dimension 1", "t-SNE dimension 2")
    return _save(fig, path)


def plot_smoothness_comparison(logits_by_model, path,
                               title="Output smoothness", ddof=1, bins=40):
    """Histograms of logit std, entropy and confidence for several models.

    A mixup-trained teacher shifts left in logit std, right in entropy and
    left in confidence, compared with the same teacher trained without it.

    Args:
        logits_by_model: ``{name: (N, classes) logits}``.
        path: PNG file to write (None: only return the figure).
        title: figure title.
        ddof: ddof of the logit std.
        bins: number of histogram bins per panel.

    Returns:
        The `matplotlib.figure.Figure`.

    Example:

    >>> plot_smoothness_comparison({"teacher": z1, "mixup": z2}, "s.png")
    """
    measures = (("Logit standard deviation",
                 lambda z: smoothness.logit_std(z, ddof)),
                ("Predictive entropy (nats)", smoothness.predictive_entropy),
                ("Confidence (max probability)", smoothness.confidence))
    fig, axes = _figure(1, 3, figsize=(15.0, 4.5))
    for ax, (name, measure) in zip(axes[0], measures):
        values = {model: measure(z) for model, z in logits_by_model.items()}
        edges = np.histogram_bin_edges(np.concatenate(list(values.values())),
                                       bins)
        for model, v in values.items():
            ax.hist(v, edges, weights=np.full(len(v), 1.0 / len(v)), alpha=0.5,
                    label=f"{model} (mean {np.mean(v):.3g})")
        ax.legend(fontsize=_TICK_SIZE - 1)
        _label(ax, name, name, "Share of samples")
    return _save(fig, path, title)


def plot_heatmap(values, row_labels, col_labels, path, title,
                 value_format="{:.2f}", xlabel=None, ylabel=None,
                 colorbar_label=None, cmap="viridis", notes=None):
    """An annotated heatmap of a 2-D grid of values (NaN cells shown blank).

    Meant for study grids, for instance student accuracy with rows
    ``teacher mixup / temperature`` and columns ``student mixup``. Each
    cell may carry a note under its value (e.g. a difference with its
    interval), in a smaller font; say what the notes are in the title or
    the colorbar label.

    Args:
        values: ``(rows, cols)`` numbers; NaN marks a missing cell.
        row_labels: ``rows`` labels (y axis).
        col_labels: ``cols`` labels (x axis).
        path: PNG file to write (None: only return the figure).
        title: figure title.
        value_format: format of the cell annotations, a ``str.format``
            pattern (``"{:.1f}"``) or a callable; None: no annotations.
        xlabel: x-axis label.
        ylabel: y-axis label.
        colorbar_label: label of the colorbar.
        cmap: matplotlib colormap name.
        notes: optional ``(rows, cols)`` strings drawn under each cell's
            value in a smaller font (None or ``""``: no note); the cells
            are drawn larger to make room.

    Returns:
        The `matplotlib.figure.Figure`.

    Example:

    >>> plot_heatmap(acc, ["T=1", "T=4"], ["no mixup", "PMU"], "grid.png",
    ...              "Student accuracy (%)", "{:.1f}",
    ...              notes=[["KD cell", "+0.52 [+0.10, +0.94] *"], ["", ""]])
    """
    values = np.asarray(values, dtype="float64")
    if values.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"`values` has shape {values.shape} but there are "
            f"{len(row_labels)} row and {len(col_labels)} column labels.")
    rows, cols = values.shape
    notes = np.full(values.shape, None) if notes is None else np.array(notes)
    if notes.shape != values.shape:
        raise ValueError(f"`notes` has shape {notes.shape} but `values` has "
                         f"shape {values.shape}.")
    width, height = (1.9, 0.9) if any(notes.flat) else (1.1, 0.6)
    fig, axes = _figure(figsize=(max(5.0, width * cols + 3.0),
                                 max(3.5, height * rows + 2.0)))
    ax = axes[0, 0]
    colormap = _colormap(cmap).with_extremes(bad="lightgray")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap,
                      aspect="auto")
    fig.colorbar(image, ax=ax).set_label(colorbar_label or "",
                                         fontsize=_LABEL_SIZE)
    tilt = cols > 4
    ax.set_xticks(range(cols), [str(c) for c in col_labels],
                  rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_yticks(range(rows), [str(r) for r in row_labels])
    fmt = (value_format.format if isinstance(value_format, str)
           else value_format)
    for (i, j), v in np.ndenumerate(values):
        note, shown = notes[i, j], fmt is not None and np.isfinite(v)
        color = _text_color(colormap(image.norm(v)))  # NaN: the bad colour
        if shown:
            ax.text(j, i - 0.13 if note else i, fmt(v), ha="center",
                    va="center", fontsize=_TICK_SIZE, color=color)
        if note:
            ax.text(j, i + 0.2 if shown else i, note, ha="center",
                    va="center", fontsize=_TICK_SIZE - 3, color=color)
    _label(ax, title, xlabel, ylabel)
    return _save(fig, path)


def _text_color(rgba):
    """White on a dark background colour, black on a light one."""
    r, g, b, _ = rgba
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


def plot_training_curves(panels, path, title=None):
    """Curves over epochs, one panel per ``(ylabel, {label: (x, y)})``.

    Args:
        panels: a list of ``(ylabel, series)``; ``series`` maps each curve's
            label to its ``(epochs, values)`` (a None value is left out).
        path: PNG file to write, or None.
        title: figure title.

    Returns:
        The `matplotlib.figure.Figure` (also written to ``path``).

    Example:

    >>> plot_training_curves([("Accuracy", {"val": ([1, 2], [0.5, 0.7])})],
    ...                      "curves.png", "Run")
    """
    fig, axes = _figure(1, len(panels), figsize=(5.5 * len(panels), 4.0))
    for ax, (ylabel, series) in zip(axes[0], panels):
        for label, (x, y) in series.items():
            # None: an epoch without the metric (not validated).
            kept = [(e, v) for e, v in zip(x, y) if v is not None]
            x, y = [e for e, _ in kept], [v for _, v in kept]
            ax.plot(x, y, marker="o" if len(x) < 30 else None, label=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        _label(ax, ylabel, "Epoch", ylabel)
    return _save(fig, path, title)


def plot_method_comparison(summary, path, title="Methods over seeds",
                           scale=100.0, ylabel="Test accuracy (%)"):
    """Means with std error bars, and paired differences with intervals.

    Left: each method's mean over seeds with its sample std as error bar
    (none for one run). Right: each method minus the baseline, paired by
    seed, with its 95% Student-t interval; a dashed line marks 0, and a
    filled marker an interval that excludes it.

    Args:
        summary: the dict of `keras_mixkd.experiments.statistics.summarize`
            (``baseline``, ``methods`` with ``n``, ``mean``, ``std``,
            ``diff_mean``, ``diff_ci95``).
        path: PNG file to write (None: only return the figure).
        title: figure title.
        scale: multiplies every value (100 shows fractions in percent).
        ylabel: label of the measured value.

    Returns:
        The `matplotlib.figure.Figure`.

    Example:

    >>> plot_method_comparison(statistics.summarize(rows, "kd"), "cmp.png")
    """
    methods = summary["methods"]
    names = list(methods)
    x = np.arange(len(names))
    fig, axes = _figure(1, 2, figsize=(max(8.0, 1.4 * len(names) + 4.0), 4.5))
    means, diffs = axes[0]
    for i, name in enumerate(names):
        m = methods[name]
        if m["mean"] is None:
            continue
        std = m["std"]
        means.errorbar(i, scale * m["mean"],
                       yerr=None if std is None else scale * std, fmt="o",
                       capsize=5, color="tab:blue", markersize=7)
        if m["diff_mean"] is None:
            continue
        interval = m["diff_ci95"]
        mid = scale * m["diff_mean"]
        yerr = (None if interval is None else
                [[mid - scale * interval[0]], [scale * interval[1] - mid]])
        excluded = interval is not None and (interval[0] > 0
                                             or interval[1] < 0)
        diffs.errorbar(i, mid, yerr=yerr, fmt="o", capsize=5,
                       color="tab:red" if excluded else "tab:gray",
                       markerfacecolor=None if excluded else "white",
                       markersize=7)
    diffs.axhline(0.0, color="black", linestyle="--", linewidth=1)
    labels = [f"{n}\n(n={methods[n]['n']})" for n in names]
    for ax in (means, diffs):
        ax.set_xticks(x, labels, rotation=30 if len(names) > 5 else 0)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.grid(alpha=0.3, axis="y")
    _label(means, "Mean ± std over seeds", ylabel=ylabel)
    _label(diffs, f"Minus {summary['baseline']}, paired by seed (95% CI)",
           ylabel=f"Difference ({'points' if scale == 100 else 'units'})")
    return _save(fig, path, title)
