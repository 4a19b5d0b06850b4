#!/usr/bin/env bash
# Side-by-side ingestion benchmark: Debian's prometheus and ember scrape the same
# synthetic targets with the same configuration, in the same run. Reports, for each:
# samples appended per CPU-second, resident memory per head series, bytes on disk per
# sample in cut blocks, and start-up (WAL replay) time on restart.
# Needs: apt-get install prometheus; python3. Usage:
#   bench/ingest_vs_prometheus.sh [TARGETS] [SERIES_PER_TARGET] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
targets=${1:-50}; per=${2:-1000}; secs=${3:-180}
work=$(mktemp -d)
pids=()
# Servers are started inside command substitutions, so they are not jobs of this
# shell: kill them by pid.
cleanup() { kill "${pids[@]}" $(jobs -p) 2>/dev/null || true; sleep 1; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release -q
python3 bench/targets.py 21000 "$targets" "$per" > "$work/targets.log" &
for _ in $(seq 50); do grep -qs ready "$work/targets.log" && break; sleep 0.2; done
{
  printf 'global:\n  scrape_interval: 5s\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: ['
  for p in $(seq 21000 $((21000 + targets - 1))); do printf "'127.0.0.1:%s'," "$p"; done
  printf ']\n'
} > "$work/p.yml"
flags=(--storage.tsdb.min-block-duration=1m --storage.tsdb.max-block-duration=1m --storage.tsdb.retention.time=1d)
start_prom() { prometheus --config.file="$work/p.yml" --storage.tsdb.path="$work/prom" --web.listen-address=127.0.0.1:19190 "${flags[@]}" >>"$work/prom.log" 2>&1 & echo $!; }
start_ember() { ./target/release/ember server --config.file="$work/p.yml" --storage.tsdb.path="$work/ember" --web.listen-address=127.0.0.1:19191 "${flags[@]}" >>"$work/ember.log" 2>&1 & echo $!; }
wait_ready() { local t0; t0=$(date +%s.%N); for _ in $(seq 3000); do curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null && break; sleep 0.05; done; echo "$(date +%s.%N) - $t0" | bc; }
# Sums a metric over its label sets (Prometheus splits samples appended by type).
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1==m || index($1, m"{")==1 {s+=$2} END {printf "%.0f\n", s}'; }
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

pp=$(start_prom); pe=$(start_ember); pids+=("$pp" "$pe")
wait_ready 19190 >/dev/null; wait_ready 19191 >/dev/null
# RSS of both every 5 s, for medians (peaks come from VmHWM).
: > "$work/rss.prom"; : > "$work/rss.ember"
for _ in $(seq $((secs / 5))); do
  sleep 5
  rss_kb "$pp" >> "$work/rss.prom" 2>/dev/null || true
  rss_kb "$pe" >> "$work/rss.ember" 2>/dev/null || true
done
for who in prom ember; do
  if [ $who = prom ]; then pid=$pp; port=19190; else pid=$pe; port=19191; fi
  if [ ! -d "/proc/$pid" ]; then echo "$who exited early; last log lines:"; tail -20 "$work/$who.log"; continue; fi
  series=$(metric $port prometheus_tsdb_head_series)
  appended=$(metric $port prometheus_tsdb_head_samples_appended_total)
  cpu=$(cpu_s "$pid"); rss=$(rss_kb "$pid")
  median=$(sort -n "$work/rss.$who" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  disk=$(du -sb "$work/$who" | cut -f1)
  echo "$who: head_series=$series appended=$appended cpu_s=$cpu rss_kb=$rss median_rss_kb=$median peak_rss_kb=$peak disk_bytes=$disk"
  echo "$cpu $median $peak $disk $appended" > "$work/sum.$who"
  awk -v w="$who" -v a="$appended" -v c="$cpu" -v r="$rss" -v s="$series" \
    'BEGIN {printf "%s: samples_per_cpu_second=%.0f rss_bytes_per_series=%.0f\n", w, a / c, r * 1024 / s}'
  blocks=$(find "$work/$who" -maxdepth 2 -name meta.json)
  bytes=0; samples=0
  for m in $blocks; do
    d=$(dirname "$m")
    bytes=$((bytes + $(du -sb "$d/chunks" | cut -f1) + $(stat -c %s "$d/index")))
    samples=$((samples + $(python3 -c "import json,sys; print(json.load(open('$m'))['stats'].get('numSamples',0))")))
  done
  [ "$samples" -gt 0 ] && echo "$who: blocks=$(echo "$blocks" | wc -w) bytes_per_sample=$(echo "scale=3; $bytes / $samples" | bc)"
done
if [ -s "$work/sum.prom" ] && [ -s "$work/sum.ember" ]; then
  read -r pc pm pk pd pa < "$work/sum.prom"; read -r ec em ek ed ea < "$work/sum.ember"
  awk -v pc="$pc" -v ec="$ec" -v pm="$pm" -v em="$em" -v pk="$pk" -v ek="$ek" -v pd="$pd" -v ed="$ed" -v pa="$pa" -v ea="$ea" \
    'BEGIN {printf "ratios ember/prometheus: cpu_s=%.2f median_rss=%.2f peak_rss=%.2f disk_bytes=%.2f samples_per_cpu_second=%.2f\n", ec/pc, em/pm, ek/pk, ed/pd, (ea/ec)/(pa/pc)}'
fi
kill -TERM "$pp" "$pe"; wait "$pp" "$pe" 2>/dev/null || true
pp=$(start_prom); pids+=("$pp"); echo "prom: restart_to_ready_s=$(wait_ready 19190)"
pe=$(start_ember); pids+=("$pe"); echo "ember: restart_to_ready_s=$(wait_ready 19191)"
