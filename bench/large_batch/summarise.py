"""Markdown table of bench/large_batch/run.sh's runs.jsonl: per configuration the mean and spread over seeds."""
import json
import statistics
import sys

runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
order = []
for r in runs:
    if r["config"] not in order:
        order.append(r["config"])


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    mean = statistics.mean(values)
    return f"{mean:.3f}" if len(values) == 1 else f"{mean:.3f} ({min(values):.3f}-{max(values):.3f})"


print("| Configuration | Batch | Options | Steps | Seeds | Test top-1 | Test top-5 | Test macro-F1 | Final val top-1 | Final train loss |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name in order:
    rs = [r for r in runs if r["config"] == name]
    print(f"| {name} | {rs[0]['batch']} | `{rs[0]['options']}` | {rs[0]['steps']} | {len(rs)} | "
          f"{spread([r['test_top1'] for r in rs])} | {spread([r['test_top5'] for r in rs])} | "
          f"{spread([r['test_macro_f1'] for r in rs])} | {spread([r['val_top1'] for r in rs])} | "
          f"{spread([r['final_train_loss'] for r in rs])} |")
