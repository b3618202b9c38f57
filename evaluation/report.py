"""Reports: ``results.json``, ``results.md``, ``items.jsonl`` and plots in a run folder, and run comparison.

``results.json`` holds ``{"task", "metrics", "breakdowns", "notes", "run_config", "plots"}``;
``items.jsonl`` one line per scored item; ``results.md`` the same numbers as Markdown tables;
``plots/*.png`` (matplotlib, Agg backend): error rate by reference length (ASR/TTS), accuracy per
category (QA), per-mode accuracy (SpeechMMLU), metric histograms.
"""

import json
import math
import os
from typing import Any, Dict, List

from .cache import RUN_CONFIG_FILE
from .tasks.common import TaskResult

RESULTS_FILE = "results.json"
MARKDOWN_FILE = "results.md"
ITEMS_FILE = "items.jsonl"


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value == 0:
        return "0"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.2f}" if abs(value) >= 1 else f"{value:.4f}"
    return "" if value is None else str(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def markdown_table(header: List[str], rows: List[List[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_format(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(results: Dict[str, Any]) -> str:
    parts = [f"# {results['task']}", ""]
    config = results.get("run_config") or {}
    if config:
        parts += [markdown_table(["setting", "value"], [[k, json.dumps(v) if isinstance(v, (dict, list)) else v] for k, v in sorted(config.items()) if v is not None]), ""]
    parts += ["## Metrics", "", markdown_table(["metric", "value"], [[k, v] for k, v in results["metrics"].items()]), ""]
    for name, table in (results.get("breakdowns") or {}).items():
        columns = sorted({c for row in table.values() for c in row})
        parts += [f"## By {name}", "", markdown_table([name] + columns, [[g] + [row.get(c) for c in columns] for g, row in table.items()]), ""]
    for plot in results.get("plots") or []:
        parts += [f"![{plot}]({plot})", ""]
    for note in results.get("notes") or []:
        parts += [f"- {note}"]
    return "\n".join(parts).rstrip() + "\n"


def _plot_error_rate_by_length(items, path) -> bool:
    import matplotlib.pyplot as plt

    rows = [r for r in items if r.get("error_rate") is not None]
    if not rows:
        return False
    # Buckets of reference length (1-5, 6-10, 11-20, 21-40, >40 units); rows with an error rate have length >= 1.
    edges = [0, 5, 10, 20, 40, math.inf]
    labels, values = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        bucket = [r for r in rows if low < r["reference_length"] <= high]
        if bucket:
            labels.append(f"{low + 1}-{int(high)}" if high != math.inf else f">{low}")
            values.append(sum(r["error_rate"] for r in bucket) / len(bucket))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(labels, values, color="tab:blue")
    ax.set_xlabel("reference length (words / characters)")
    ax.set_ylabel("mean error rate (%)")
    ax.set_title("Error rate by utterance length")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _plot_bars(labels, values, ylabel, title, path) -> bool:
    import matplotlib.pyplot as plt

    if not labels:
        return False
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(labels) + 2), 3.2))
    ax.bar([str(l) for l in labels], [0 if v is None or math.isnan(v) else v for v in values], color="tab:green")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _plot_histogram(values, name, path) -> bool:
    import matplotlib.pyplot as plt

    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(values, bins=min(20, max(1, len(values))))
    ax.set_xlabel(name)
    ax.set_ylabel("items")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def draw_plots(result: TaskResult, run_dir: str) -> List[str]:
    """Draw the plots a task asked for; return their paths relative to ``run_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(os.path.join(run_dir, "plots"), exist_ok=True)
    written = []
    for plot in result.plots:
        name = plot.replace(":", "_")
        relative = os.path.join("plots", f"{name}.png")
        path = os.path.join(run_dir, relative)
        if plot == "error_rate_by_length":
            ok = _plot_error_rate_by_length(result.items, path)
        elif plot.startswith("bar:") and plot[4:] in result.breakdowns:
            table = result.breakdowns[plot[4:]]
            ok = _plot_bars(list(table), [row["accuracy"] for row in table.values()], "accuracy (%)", f"Accuracy by {plot[4:]}", path)
        elif plot == "bar:modes":
            modes = [k[len("accuracy_") :] for k in result.metrics if k.startswith("accuracy_")]
            ok = _plot_bars(modes, [result.metrics[f"accuracy_{m}"] for m in modes], "accuracy (%)", "Accuracy by modality", path)
        elif plot.startswith("histogram:"):
            key = plot.split(":", 1)[1]
            ok = _plot_histogram([r.get(key) for r in result.items], key, path)
        else:
            raise ValueError(f"unknown plot {plot!r}")
        if ok:
            written.append(relative)
    return written


def write_report(result: TaskResult, run_dir: str) -> Dict[str, Any]:
    """Write results.json, results.md, items.jsonl and plots into ``run_dir``; return the results dict."""
    os.makedirs(run_dir, exist_ok=True)
    config_path = os.path.join(run_dir, RUN_CONFIG_FILE)
    run_config = json.load(open(config_path, encoding="utf-8")) if os.path.isfile(config_path) else {}
    plots = draw_plots(result, run_dir)
    results = _json_safe(
        {
            "task": result.task,
            "metrics": result.metrics,
            "breakdowns": result.breakdowns,
            "notes": result.notes,
            "run_config": run_config,
            "plots": plots,
        }
    )
    with open(os.path.join(run_dir, RESULTS_FILE), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, ensure_ascii=False)
    with open(os.path.join(run_dir, ITEMS_FILE), "w", encoding="utf-8") as f:
        for item in result.items:
            f.write(json.dumps(_json_safe(item), ensure_ascii=False) + "\n")
    with open(os.path.join(run_dir, MARKDOWN_FILE), "w", encoding="utf-8") as f:
        f.write(render_markdown(results))
    return results


def load_results(run: str) -> Dict[str, Any]:
    """The ``results.json`` of a run folder (or the file itself)."""
    path = os.path.join(run, RESULTS_FILE) if os.path.isdir(run) else run
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {RESULTS_FILE} in {run!r}; run `mimo-audio eval TASK ... --output-dir {run}` first")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def compare_runs(run_a: str, run_b: str) -> Dict[str, Any]:
    """Metrics of two runs side by side: ``{"task_a", "task_b", "rows": [[metric, a, b, b - a], ...]}``."""
    a, b = load_results(run_a), load_results(run_b)
    names = list(a["metrics"]) + [k for k in b["metrics"] if k not in a["metrics"]]
    rows = []
    for name in names:
        va, vb = a["metrics"].get(name), b["metrics"].get(name)
        numeric = isinstance(va, (int, float)) and isinstance(vb, (int, float)) and not isinstance(va, bool)
        rows.append([name, va, vb, (vb - va) if numeric else None])
    for table_name in sorted(set(a.get("breakdowns") or {}) | set(b.get("breakdowns") or {})):
        ta, tb = (a.get("breakdowns") or {}).get(table_name, {}), (b.get("breakdowns") or {}).get(table_name, {})
        for group in list(ta) + [g for g in tb if g not in ta]:
            va, vb = ta.get(group, {}).get("accuracy"), tb.get(group, {}).get("accuracy")
            if va is None and vb is None:
                continue
            rows.append([f"{table_name}/{group} accuracy", va, vb, (vb - va) if va is not None and vb is not None else None])
    return {"task_a": a["task"], "task_b": b["task"], "rows": rows}


def render_comparison(comparison: Dict[str, Any], label_a: str, label_b: str) -> str:
    header = ["metric", label_a, label_b, "delta (B - A)"]
    rows = [[name, va, vb, ("+" if d is not None and d > 0 else "") + _format(d) if d is not None else ""] for name, va, vb, d in comparison["rows"]]
    text = markdown_table(header, rows)
    if comparison["task_a"] != comparison["task_b"]:
        text = f"warning: comparing different tasks ({comparison['task_a']} vs {comparison['task_b']})\n\n" + text
    return text
