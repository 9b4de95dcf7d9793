"""Runs every benchmark of BENCHMARKS.md and prints its tables.

Each configuration runs in its own process (precision policies and XLA are
process-wide). The comparison with the official code comes first: for each
precision, the PyTorch reference (``torch_reference.py``) and
``distill_throughput.py`` run one after the other, ``--rounds`` times
alternating (A/B/A/B), so a change of machine load affects both alike; the
ratio is that of the medians. Then the other configurations (XLA, the
teacher at a lower precision) and the input pipelines against the fastest
training rate, the append step against the replace step
(``append_step.py``) and the engine's per-epoch overhead
(``epoch_overhead.py``, from `REGIME_TEACHER` when present). The JSON
lines go to ``benchmarks/results/<date>.jsonl``;
the Markdown tables to stdout. Without PyTorch installed
(``pip install keras_mixkd[bench]``) the comparison is left out.

    python benchmarks/run_all.py [--rounds=2] [--only_reference]
"""

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
#: (name, distill_throughput flags, torch_reference precision or None).
REFERENCE_CONFIGS = (
    ("float32", ["--mixed_precision=none"], "float32"),
    ("mixed_bfloat16", ["--mixed_precision=bfloat16"], "bfloat16"))
OTHER_CONFIGS = (
    ("float32, teacher bfloat16", ["--mixed_precision=none",
                                   "--teacher_dtype=bfloat16"]),
    ("float32 + XLA", ["--mixed_precision=none", "--jit_compile"]),
    ("mixed_bfloat16 + XLA", ["--mixed_precision=bfloat16", "--jit_compile"]))
#: The teacher ``epoch_overhead.py`` distils from (without it, the script
#: trains one first).
REGIME_TEACHER = (HERE.parent / "results" / "fashion_mnist-1k-e60-regime"
                  / "teacher" / "checkpoints" / "last.keras")
KEYS = ("teacher_forward_img_per_s", "student_step_img_per_s",
        "bound_img_per_s", "fit_img_per_s")


def run_json(script, args):
    """Runs a benchmark script with ``--json``; returns its result dict."""
    out = subprocess.run([sys.executable, str(HERE / script), "--json", *args],
                         check=True, stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             filter(None, [str(HERE.parent), os.environ.get(
                                 "PYTHONPATH")]))}).stdout
    return json.loads(out.strip().splitlines()[-1])


def merged(runs):
    """One result from several runs of a configuration: median figures."""
    result = dict(runs[-1])
    for key in KEYS:
        result[key] = statistics.median(r[key] for r in runs)
    result["fit_over_bound"] = result["fit_img_per_s"] / result[
        "bound_img_per_s"]
    result["rounds"] = [{k: r[k] for k in KEYS} for r in runs]
    result["load_average"] = [r["environment"]["load_average"] for r in runs]
    return result


def reference_rows(rounds):
    """The PyTorch reference and the Distiller, alternating, per precision."""
    keras_runs, torch_runs = {}, {}
    for _ in range(rounds):
        for name, flags, precision in REFERENCE_CONFIGS:
            print(f"running PyTorch {precision} ...", file=sys.stderr,
                  flush=True)
            torch_runs.setdefault(name, []).append(run_json(
                "torch_reference.py", [f"--precision={precision}"]))
            print(f"running {name} ...", file=sys.stderr, flush=True)
            keras_runs.setdefault(name, []).append(run_json(
                "distill_throughput.py", flags))
    lines = ["| precision | PyTorch step | Distiller.fit | ratio | "
             "per round (fit / PyTorch) | load average (1 min) |",
             "|---|---:|---:|---:|---|---|"]
    for name, _, _ in REFERENCE_CONFIGS:
        t = [r["step_img_per_s"] for r in torch_runs[name]]
        k = [r["fit_img_per_s"] for r in keras_runs[name]]
        per_round = ", ".join(f"{b:.1f} / {a:.1f}" for a, b in zip(t, k))
        loads = [r["environment"]["load_average"][0]
                 for pair in zip(torch_runs[name], keras_runs[name])
                 for r in pair]
        lines.append(
            f"| {name} | {statistics.median(t):.1f} | "
            f"{statistics.median(k):.1f} | "
            f"{statistics.median(k) / statistics.median(t):.2f}x | "
            f"{per_round} | {min(loads):.1f}-{max(loads):.1f} |")
    results = {name: merged(runs) for name, runs in keras_runs.items()}
    return results, torch_runs, "\n".join(lines)


def tables(results):
    """The Keras-side table of BENCHMARKS.md."""
    lines = ["| configuration | teacher forward | student step | bound | "
             "Distiller.fit | fit / bound | fit traces (after warm-up) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        t = r["traces"]
        lines.append(
            f"| {name} | {r['teacher_forward_img_per_s']:.1f} | "
            f"{r['student_step_img_per_s']:.1f} | {r['bound_img_per_s']:.1f} "
            f"| {r['fit_img_per_s']:.1f} | {100 * r['fit_over_bound']:.1f}% | "
            f"{t['fit_train_step']} ({t['fit_retraces_after_warmup']}) |")
    return "\n".join(lines)


def pipeline_table(pipeline):
    lines = ["| input pipeline (train) | images/s | first epoch | "
             "headroom over the fastest fit |", "|---|---:|---:|---:|"]
    for name, r in pipeline["datasets"].items():
        lines.append(f"| {name} | {r['img_per_s']:.0f} | "
                     f"{r['first_epoch_img_per_s']:.0f} | {r['headroom']}x |")
    env = pipeline["environment"]
    lines += ["", f"{env['date']}, {env['device']}, CPU flags "
              f"{' '.join(env['cpu_flags'])}, TensorFlow {env['tensorflow']}, "
              f"Keras {env['keras']}, load average at the end "
              f"{env['load_average']}."]
    return "\n".join(lines)


def append_line(append):
    """One line: the append step's cost against the replace step."""
    ms = append["step_ms"]
    return (f"append / replace step: {append['append_over_replace']:.2f}x "
            f"({ms['append']:.1f} vs {ms['replace']:.1f} ms/step)")


def overhead_line(overhead):
    """One line: the engine's per-epoch overhead against its step time."""
    return (f"per-epoch overhead: {overhead['overhead_s']:.3f} s "
            f"({overhead['overhead_pct']:.1f}% of the step time "
            f"{overhead['step_time_s']:.3f} s; validation "
            f"{overhead['validation_pct']:.1f}%, the rest "
            f"{overhead['rest_pct']:.1f}%)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating rounds of PyTorch and Distiller")
    parser.add_argument("--only_reference", action="store_true",
                        help="only the comparison with PyTorch")
    args = parser.parse_args(argv)
    out = HERE / "results" / f"{datetime.date.today().isoformat()}.jsonl"
    out.parent.mkdir(exist_ok=True)
    records, printed, results = [], [], {}
    if importlib.util.find_spec("torch") is not None:
        results, torch_runs, table = reference_rows(args.rounds)
        printed.append(table)
        for name, runs in torch_runs.items():
            records += [{"configuration": f"PyTorch {name}", **r}
                        for r in runs]
    else:
        print("PyTorch is not installed: no comparison "
              "(pip install keras_mixkd[bench]).", file=sys.stderr)
    if not args.only_reference:
        for name, flags in (OTHER_CONFIGS if results else (
                *((n, f) for n, f, _ in REFERENCE_CONFIGS), *OTHER_CONFIGS)):
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = run_json("distill_throughput.py", flags)
    printed.append(tables(results))
    if not args.only_reference:
        fastest = max(r["fit_img_per_s"] for r in results.values())
        pipeline = run_json("input_pipeline.py", [f"--consumption={fastest}"])
        records.append(pipeline)
        printed.append(pipeline_table(pipeline))
        deviation = run_json("precision_deviation.py", [])
        records.append(deviation)
        printed.append("max relative deviation of the loss from float32 "
                       "(5 steps): " + ", ".join(
                           f"{k} {v:.1e}" for k, v in
                           deviation["max_relative_deviation"].items()))
        append = run_json("append_step.py", [])
        records.append(append)
        printed.append(append_line(append))
        overhead = run_json("epoch_overhead.py", [
            f"--teacher_weights={REGIME_TEACHER}"]
            if REGIME_TEACHER.exists() else [])
        records.append(overhead)
        printed.append(overhead_line(overhead))
    records += [{"configuration": n, **r} for n, r in results.items()]
    with open(out, "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    print("\n\n".join(printed))
    print(f"\n(JSON lines appended to {out})")


if __name__ == "__main__":
    main()
