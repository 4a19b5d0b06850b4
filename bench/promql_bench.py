#!/usr/bin/env python3
"""Times the same PromQL queries against two servers speaking Prometheus's API and
checks that their answers agree. Usage: promql_bench.py PROM_URL EMBER_URL END_UNIX_SECONDS [RUNS]
Prints, per query and kind (instant / 1h range at 15s), the median latency of each
server, the ratio Ember/Prometheus, and whether results match."""
import json
import statistics
import sys
import time
import urllib.parse
import urllib.request

prom, ember, end = sys.argv[1], sys.argv[2], float(sys.argv[3])
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 7

QUERIES = [
    "sum(rate(http_requests_total[5m]))",
    "sum by (code) (rate(http_requests_total[5m]))",
    'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.9, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))",
    "topk(5, sum by (instance) (rate(http_requests_total[5m])))",
    "avg(memory_bytes)",
    "max_over_time(memory_bytes[10m])",
    'sum by (instance) (rate(http_requests_total{code="500"}[5m])) / sum by (instance) (rate(http_requests_total[5m]))',
    "count by (mode) (node_cpu_seconds_total)",
    "sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))",
    "quantile(0.95, memory_bytes)",
]


def get(base, path, params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
    return time.perf_counter() - t0, json.loads(body)


def canon(data):
    out = {}
    result = data["data"]["result"]
    if data["data"]["resultType"] == "scalar":
        result = [{"metric": {}, "value": result}]
    for s in result:
        key = json.dumps(s["metric"], sort_keys=True)
        vals = s.get("values") or [s.get("value")]
        out[key] = [(float(t), float(v)) for t, v in vals]
    return out


def same(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        if len(a[k]) != len(b[k]):
            return False
        for (t1, v1), (t2, v2) in zip(a[k], b[k]):
            if t1 != t2:
                return False
            if v1 != v2 and not (v1 != v1 and v2 != v2) and abs(v1 - v2) > 1e-9 * max(abs(v1), abs(v2)):
                return False
    return True


ratios = []
print(f"{'kind':7} {'prometheus ms':>13} {'ember ms':>9} {'ratio':>6} match  query")
for q in QUERIES:
    for kind, path, params in [
        ("instant", "/api/v1/query", {"query": q, "time": end}),
        ("range", "/api/v1/query_range", {"query": q, "start": end - 3600, "end": end, "step": 15}),
    ]:
        tp, te = [], []
        for i in range(runs):
            d, rp = get(prom, path, params)
            tp.append(d)
            d, re_ = get(ember, path, params)
            te.append(d)
        mp, me = statistics.median(tp), statistics.median(te)
        ok = rp.get("status") == "success" and re_.get("status") == "success" and same(canon(rp), canon(re_))
        ratios.append(me / mp)
        print(f"{kind:7} {mp*1000:13.2f} {me*1000:9.2f} {me/mp:6.2f} {'yes' if ok else 'NO':5}  {q}")
        if not ok:
            a, b = canon(rp), canon(re_)
            only = sorted(set(a) ^ set(b))[:2]
            diff = [k for k in a if k in b and a[k] != b[k]][:1]
            print(f"        series only on one side: {only}; first differing: {[(k, a[k][:3], b[k][:3]) for k in diff]}")
print(f"median ratio ember/prometheus: {statistics.median(ratios):.2f} over {len(ratios)} query kinds, {runs} runs each")
