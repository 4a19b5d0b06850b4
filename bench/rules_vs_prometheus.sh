#!/usr/bin/env bash
# Side-by-side rule evaluation: Debian's prometheus and `ember server` scrape the same
# synthetic targets (10 targets x 1,000 series = 10,000 series) and evaluate the same
# 1,000 recording rules (10 groups of 100, every 5s) in the same run. Reports, per
# server, the median over SAMPLES readings of the summed group evaluation time from
# /api/v1/rules (one round of all 1,000 rules), its CPU seconds over the run, and the
# ratio Ember/Prometheus. Needs: apt-get install prometheus; python3. Usage:
#   bench/rules_vs_prometheus.sh [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
samples=${1:-12}
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" $(jobs -p) 2>/dev/null || true; sleep 1; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release -q -p ember-cli
python3 bench/targets.py 21000 10 1000 > "$work/targets.log" &
pids+=($!)
python3 - "$work/rules.yml" <<'PY'
import sys
out = ["groups:"]
for g in range(10):
    out += [f"  - name: bench{g}", "    interval: 5s", "    rules:"]
    for j in range(100):
        i = g * 100 + j
        k = i % 4
        if k == 0:
            e = f'sum by (port) (rate(bench_requests_total{{shard="{i % 10}"}}[1m]))'
        elif k == 1:
            e = f'max by (shard) (bench_requests_total{{port="{21000 + i % 10}"}})'
        elif k == 2:
            e = f'count(bench_requests_total{{series="{i % 1000}"}})'
        else:
            e = f'avg(rate(bench_requests_total{{series=~"{i % 100}[0-9]"}}[5m]))'
        out += [f"      - record: bench:rule_{i}", f"        expr: '{e}'"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
{
  printf 'global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nrule_files: ["%s"]\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [' "$work/rules.yml"
  for p in $(seq 21000 21009); do printf "'127.0.0.1:%s'," "$p"; done
  printf ']\n'
} > "$work/p.yml"
prometheus --config.file="$work/p.yml" --storage.tsdb.path="$work/prom" --web.listen-address=127.0.0.1:19290 >"$work/prom.log" 2>&1 &
pp=$!; pids+=("$pp")
./target/release/ember server --config.file="$work/p.yml" --storage.tsdb.path="$work/ember" --web.listen-address=127.0.0.1:19291 --log.level=warn >"$work/ember.log" 2>&1 &
pe=$!; pids+=("$pe")
for port in 19290 19291; do for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.1; done; done
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
# Let 5m of rate windows fill partially and caches warm up.
sleep 40
c0p=$(cpu_s "$pp"); c0e=$(cpu_s "$pe")
sum_eval() { curl -s "http://127.0.0.1:$1/api/v1/rules" | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]["groups"]; print(sum(g["evaluationTime"] for g in d), len(d), sum(len(g["rules"]) for g in d), sum(1 for g in d for r in g["rules"] if r["health"] != "ok"))'; }
: > "$work/p.txt"; : > "$work/e.txt"
for _ in $(seq "$samples"); do
  sum_eval 19290 >> "$work/p.txt"; sum_eval 19291 >> "$work/e.txt"; sleep 5
done
c1p=$(cpu_s "$pp"); c1e=$(cpu_s "$pe")
median() { awk '{print $1}' "$1" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mp=$(median "$work/p.txt"); me=$(median "$work/e.txt")
read -r _ gp rp bp < "$work/p.txt"; read -r _ ge re be < "$work/e.txt"
echo "prometheus groups $gp rules $rp unhealthy $bp median_round_seconds $mp cpu_seconds $(echo "$c1p - $c0p" | bc)"
echo "ember      groups $ge rules $re unhealthy $be median_round_seconds $me cpu_seconds $(echo "$c1e - $c0e" | bc)"
echo "ratio ember/prometheus: eval_time $(echo "scale=3; $me / $mp" | bc) cpu $(echo "scale=3; ($c1e - $c0e) / ($c1p - $c0p)" | bc)"
# Both recorded the same values? Compare one rule of each kind at the same instant.
for r in bench:rule_0 bench:rule_1 bench:rule_2 bench:rule_3; do
  a=$(curl -s "http://127.0.0.1:19290/api/v1/query?query=count($r)" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')
  b=$(curl -s "http://127.0.0.1:19291/api/v1/query?query=count($r)" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')
  echo "series of $r: prometheus $a ember $b"
done
