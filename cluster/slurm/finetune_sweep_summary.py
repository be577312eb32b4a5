#!/usr/bin/env python3
"""Summarise a fine-tuning sweep written by finetune_sweep.sbatch.

Reads <OUT>/lr-<lr>/seed-<seed>/dev_results.jsonl (one JSON line per dev split, written by
`electra finetune`) and prints, per learning rate, dev split and metric, the median and the
min/max over seeds, as the ELECTRA paper reports fine-tuning results. Runs that did not finish
(no dev_results.jsonl) are listed, not silently dropped. Standard library only.

usage: finetune_sweep_summary.py OUT [--json]
"""
import glob
import json
import os
import statistics
import sys


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    out, as_json = argv[1], "--json" in argv[2:]
    groups = {}   # (lr, split, metric) -> [(seed, value)]
    missing = []
    for run in sorted(glob.glob(os.path.join(out, "lr-*", "seed-*"))):
        lr = os.path.basename(os.path.dirname(run))[3:]
        seed = os.path.basename(run)[5:]
        path = os.path.join(run, "dev_results.jsonl")
        if not os.path.exists(path):
            missing.append(run)
            continue
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                for key, value in rec.items():
                    if key in ("task", "split"):
                        continue
                    groups.setdefault((lr, rec["split"], key), []).append((seed, value))
    if not groups:
        print(f"no finished runs under {out} (expected lr-*/seed-*/dev_results.jsonl)",
              file=sys.stderr)
        return 1
    for (lr, split, metric), runs in sorted(groups.items(), key=lambda kv: (float(kv[0][0]), kv[0][1:])):
        values = [v for _, v in runs]
        row = {"lr": lr, "split": split, "metric": metric, "median": statistics.median(values),
               "min": min(values), "max": max(values), "runs": len(values),
               "seeds": [s for s, _ in runs]}
        if as_json:
            print(json.dumps(row))
        else:
            print(f"lr {lr:>8}  {split:<15} {metric:<9} median {row['median']:.4f}  "
                  f"[{row['min']:.4f}, {row['max']:.4f}]  over {len(values)} seed(s)")
    for run in missing:
        print(f"unfinished: {run} (no dev_results.jsonl)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
