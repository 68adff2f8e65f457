"""An ordinary program: reads its input from the working directory, does
some numeric work and writes a result file next to it.

    moat run --workspace examples/data --out /tmp/moat-out examples/benign_analysis.py
"""
import csv
import json
import statistics

with open("measurements.csv") as f:
    rows = [float(r["value"]) for r in csv.DictReader(f)]
summary = {"n": len(rows), "mean": statistics.mean(rows), "stdev": statistics.stdev(rows)}
with open("summary.json", "w") as f:
    json.dump(summary, f)
print(summary)
