"""Runs every benchmark of BENCHMARKS.md and prints its tables.

Each configuration runs in its own process (precision policies and XLA are
process-wide): float32 and mixed_bfloat16, each with XLA off and on, then the
input pipelines against the fastest training rate. The JSON lines go to
``benchmarks/results/<date>.jsonl``; the Markdown tables to stdout.

    python benchmarks/run_all.py [--steps=8] [--repeats=3]
"""

import argparse
import datetime
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
CONFIGS = (("float32", ["--mixed_precision=none"]),
           ("mixed_bfloat16", ["--mixed_precision=bfloat16"]),
           ("float32 + XLA", ["--mixed_precision=none", "--jit_compile"]),
           ("mixed_bfloat16 + XLA", ["--mixed_precision=bfloat16",
                                     "--jit_compile"]))


def run_json(script, args):
    """Runs a benchmark script with ``--json``; returns its result dict."""
    out = subprocess.run([sys.executable, str(HERE / script), "--json", *args],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ratio(a, b):
    return f"{a / b:.2f}x"


def tables(results, pipeline):
    """The Markdown tables of BENCHMARKS.md."""
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
    lines += ["", "| ratio | teacher forward | student step | Distiller.fit |",
              "|---|---:|---:|---:|"]
    keys = ("teacher_forward_img_per_s", "student_step_img_per_s",
            "fit_img_per_s")
    for label, a, b in (
            ("mixed_bfloat16 / float32", "mixed_bfloat16", "float32"),
            ("mixed_bfloat16 / float32, XLA", "mixed_bfloat16 + XLA",
             "float32 + XLA"),
            ("XLA on / off, float32", "float32 + XLA", "float32"),
            ("XLA on / off, mixed_bfloat16", "mixed_bfloat16 + XLA",
             "mixed_bfloat16")):
        lines.append(f"| {label} | " + " | ".join(
            ratio(results[a][k], results[b][k]) for k in keys) + " |")
    lines += ["", "| input pipeline (train) | images/s | first epoch | "
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    timing = [f"--steps={args.steps}", f"--repeats={args.repeats}"]
    results = {}
    for name, flags in CONFIGS:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = run_json("distill_throughput.py", flags + timing)
    fastest = max(r["fit_img_per_s"] for r in results.values())
    pipeline = run_json("input_pipeline.py", [f"--consumption={fastest}"])
    out = HERE / "results" / f"{datetime.date.today().isoformat()}.jsonl"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        for name, r in results.items():
            f.write(json.dumps({"configuration": name, **r}) + "\n")
        f.write(json.dumps(pipeline) + "\n")
    print(tables(results, pipeline))
    print(f"\n(JSON lines appended to {out})")


if __name__ == "__main__":
    main()
