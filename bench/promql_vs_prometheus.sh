#!/usr/bin/env bash
# Side-by-side PromQL benchmark: the same data (10,000 series x 2 h at 15 s, classic
# histograms included, backfilled with promtool into Prometheus's block format) is
# served by Debian's prometheus and by ember; the same queries run against both.
# Needs: apt-get install prometheus; a release build of ember.
# Usage: bench/promql_vs_prometheus.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q
now=$(date +%s)
start=$(( (now - 4 * 3600) / 7200 * 7200 ))
# Off the 15 s sample grid: Debian's Prometheus 2.42 selects ranges closed on the left,
# 3.x (and Ember) open; between sample timestamps the two agree.
end=$(( start + 2 * 3600 - 22 ))
echo "generating data from $start"
python3 bench/gen_openmetrics.py "$work/data.om" "$start"
mkdir -p "$work/prom" && promtool tsdb create-blocks-from openmetrics "$work/data.om" "$work/prom" >/dev/null
cp -r "$work/prom" "$work/ember"
printf 'global:\n  scrape_interval: 15s\n' > "$work/p.yml"
prometheus --config.file="$work/p.yml" --storage.tsdb.path="$work/prom" --web.listen-address=127.0.0.1:19090 \
  --storage.tsdb.retention.time=30d >"$work/prom.log" 2>&1 &
./target/release/ember server --config.file="$work/p.yml" --storage.tsdb.path="$work/ember" \
  --web.listen-address=127.0.0.1:19091 --storage.tsdb.retention.time=30d >"$work/ember.log" 2>&1 &
for port in 19090 19091; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done
done
python3 bench/promql_bench.py http://127.0.0.1:19090 http://127.0.0.1:19091 "$end" "$runs"
for name in prometheus ember; do
  pid=$(pgrep -f "$work/$( [ $name = prometheus ] && echo prom || echo ember)" | head -1)
  echo "$name RSS: $(awk '/VmRSS/ {print $2" "$3}' /proc/$pid/status)"
done
