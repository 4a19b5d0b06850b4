#!/usr/bin/env python3
"""Writes an OpenMetrics file with ~10,000 series x 2 hours at 15 s (classic
histograms included) for backfilling with `promtool tsdb create-blocks-from
openmetrics`. Usage: gen_openmetrics.py OUT START_UNIX_SECONDS"""
import random
import sys

out, start = sys.argv[1], int(sys.argv[2])
steps = 2 * 3600 // 15
random.seed(42)
LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]

with open(out, "w") as f:
    def family(name, typ, series, value):
        f.write(f"# TYPE {name} {typ}\n")
        # OpenMetrics names counter samples with a _total suffix.
        sample = name + "_total" if typ == "counter" else name
        for labels, state in series:
            for i in range(steps):
                t = start + i * 15
                f.write(f"{sample}{{{labels}}} {value(state, i):g} {t}\n")

    # Counters: 100 instances x 5 methods x 4 codes = 2,000 series.
    reqs = []
    for inst in range(100):
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH"]:
            for code in ["200", "404", "500", "503"]:
                reqs.append((f'job="api",instance="i{inst}",method="{m}",code="{code}"', random.uniform(0.1, 20)))
    family("http_requests", "counter", [(l, r) for l, r in reqs], lambda r, i: int(r * i * 15))
    # CPU: 100 instances x 8 cpus x 4 modes = 3,200 series.
    cpu = [(f'job="node",instance="i{inst}",cpu="{c}",mode="{m}"', random.uniform(0.01, 1))
           for inst in range(100) for c in range(8) for m in ["idle", "user", "system", "iowait"]]
    family("node_cpu_seconds", "counter", cpu, lambda r, i: round(r * i * 15, 3))
    # Classic histogram: 100 instances x 10 buckets (+ _sum, _count).
    f.write("# TYPE http_request_duration_seconds histogram\n")
    for inst in range(100):
        rate = random.uniform(1, 50)
        shares = sorted(random.uniform(0, 1) for _ in LE[:-1]) + [1.0]
        for i in range(steps):
            t = start + i * 15
            total = int(rate * i * 15)
            for le, s in zip(LE, shares):
                f.write(f'http_request_duration_seconds_bucket{{job="api",instance="i{inst}",le="{le}"}} {int(total * s)} {t}\n')
            f.write(f'http_request_duration_seconds_sum{{job="api",instance="i{inst}"}} {total * 0.123:.3f} {t}\n')
            f.write(f'http_request_duration_seconds_count{{job="api",instance="i{inst}"}} {total} {t}\n')
    # Gauges: 100 instances x 36 kinds = 3,600 series.
    mem = [(f'job="node",instance="i{inst}",kind="k{k}"', random.uniform(1e6, 1e9)) for inst in range(100) for k in range(36)]
    family("memory_bytes", "gauge", mem, lambda r, i: int(r + (i % 40) * 1e5))
    f.write("# EOF\n")
