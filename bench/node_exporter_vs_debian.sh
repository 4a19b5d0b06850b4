#!/usr/bin/env bash
# Ember's node exporter against Debian's prometheus-node-exporter, same machine,
# same run: CPU time per scrape and scrape latency.
#
# Both exporters run with the same collectors (the ones Ember implements, which is
# every collector enabled by default in Ember) and the same filters, and are scraped
# alternately, N times each, with curl, in two rounds:
#   - plain: no Accept or Accept-Encoding header (text format, uncompressed);
#   - prometheus: the headers Prometheus sends,
#       Accept: application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1
#       Accept-Encoding: gzip
#     Both answer gzip-compressed; Ember in OpenMetrics (its negotiation picks it
#     for this header), node_exporter 1.5 in the text format (it does not offer
#     OpenMetrics), the same series either way.
# Per scrape it records
#   - the latency curl measures (time_total), and
#   - the CPU the exporter spent, as the change of the summed per-thread on-CPU
#     time in /proc/<pid>/task/*/schedstat (nanoseconds; utime+stime in
#     /proc/<pid>/stat tick at 10 ms, too coarse for one scrape).
# It also reports utime+stime from /proc/<pid>/stat over each round divided by N,
# which counts threads that exited too. Medians, 90th percentiles and Ember/Debian
# ratios are printed.
#
# Usage: bench/node_exporter_vs_debian.sh [N]
#   EMBER=target/release/ember  NODE_EXPORTER=/usr/bin/prometheus-node-exporter
# Build first: cargo build --release -p ember-cli

set -euo pipefail

N=${1:-200}
EMBER=${EMBER:-target/release/ember}
NODE_EXPORTER=${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}
PORT_EMBER=${PORT_EMBER:-19101}
PORT_NE=${PORT_NE:-19102}

for b in "$EMBER" "$NODE_EXPORTER"; do
  [ -x "$b" ] || { echo "not executable: $b" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

# The collectors Ember enables by default, which node_exporter 1.5 all has.
COLLECTORS="arp bcache bonding btrfs conntrack cpu cpufreq diskstats dmi edac entropy
fibrechannel filefd filesystem hwmon infiniband ipvs loadavg mdadm meminfo netclass
netdev netstat nfs nfsd nvme os powersupplyclass pressure rapl schedstat selinux
sockstat softnet stat tapestats textfile thermal_zone time timex udp_queues uname
vmstat xfs zfs"
FLAGS=(--collector.disable-defaults
  "--collector.filesystem.mount-points-exclude=^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)")
for c in $COLLECTORS; do FLAGS+=("--collector.$c"); done

tmp=$(mktemp -d /tmp/ne_bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

"$EMBER" node-exporter "${FLAGS[@]}" --web.listen-address="127.0.0.1:$PORT_EMBER" \
  >"$tmp/ember.log" 2>&1 &
pid_ember=$!
pids+=("$pid_ember")
# Debian's node_exporter 1.5 knows every one of these collectors.
"$NODE_EXPORTER" "${FLAGS[@]}" --web.listen-address="127.0.0.1:$PORT_NE" \
  >"$tmp/ne.log" 2>&1 &
pid_ne=$!
pids+=("$pid_ne")

wait_up() {
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/metrics" && return 0
    sleep 0.1
  done
  echo "exporter on :$1 did not come up" >&2
  cat "$tmp"/*.log >&2
  exit 1
}
wait_up "$PORT_EMBER"
wait_up "$PORT_NE"

clk=$(getconf CLK_TCK)
# utime+stime (clock ticks) of a process: fields 14 and 15, counted after the
# command name, which may hold spaces.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# Summed on-CPU nanoseconds of the process's live threads.
# (%.0f, not %d: mawk's %d stops at 2^31-1, about 2.1 s of CPU.)
oncpu() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }

# What Prometheus sends (scrape.go's acceptHeader with the default protocols and
# its Accept-Encoding).
PROM_HEADERS=(-H 'Accept: application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1'
  -H 'Accept-Encoding: gzip')

scrape() { # port pid outfile [curl args...]
  local before after lat port=$1 pid=$2 out=$3
  shift 3
  before=$(oncpu "$pid")
  lat=$(curl -s -o /dev/null -w '%{time_total}' "$@" "http://127.0.0.1:$port/metrics")
  after=$(oncpu "$pid")
  echo "$lat $(( after - before ))" >>"$out"
}

# Warm-up: first scrapes fill caches and start thread pools.
for _ in 1 2 3 4 5; do
  curl -s -o /dev/null "http://127.0.0.1:$PORT_EMBER/metrics"
  curl -s -o /dev/null "http://127.0.0.1:$PORT_NE/metrics"
done

series_ember=$(curl -s "http://127.0.0.1:$PORT_EMBER/metrics" | grep -vc '^#')
series_ne=$(curl -s "http://127.0.0.1:$PORT_NE/metrics" | grep -vc '^#')

# quantile FILE COLUMN Q
quantile() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk -v q="$3" '{v[NR]=$1} END {i=int((NR-1)*q)+1; print v[i]}'; }

report() { # name file t0 t1 series
  local lat50 lat90 cpu50 cpu90 mean
  lat50=$(quantile "$2" 1 0.5)
  lat90=$(quantile "$2" 1 0.9)
  cpu50=$(quantile "$2" 2 0.5)
  cpu90=$(quantile "$2" 2 0.9)
  mean=$(awk -v a="$3" -v b="$4" -v n="$N" -v hz="$clk" 'BEGIN {printf "%.2f", (b - a) / hz / n * 1000}')
  printf '%-8s series %5s  latency p50 %7.2f ms  p90 %7.2f ms  CPU/scrape p50 %7.2f ms  p90 %7.2f ms  (utime+stime mean %s ms)\n' \
    "$1" "$5" "$(awk -v v="$lat50" 'BEGIN{print v*1000}')" "$(awk -v v="$lat90" 'BEGIN{print v*1000}')" \
    "$(awk -v v="$cpu50" 'BEGIN{print v/1e6}')" "$(awk -v v="$cpu90" 'BEGIN{print v/1e6}')" "$mean"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

echo "$N scrapes each per round, alternating; $(nproc) CPUs; $("$NODE_EXPORTER" --version 2>&1 | head -1)"
for round in plain prometheus; do
  args=()
  [ "$round" = prometheus ] && args=("${PROM_HEADERS[@]}")
  fe="$tmp/ember.$round.txt"
  fn="$tmp/ne.$round.txt"
  t0_ember=$(ticks "$pid_ember")
  t0_ne=$(ticks "$pid_ne")
  for _ in $(seq "$N"); do
    scrape "$PORT_EMBER" "$pid_ember" "$fe" ${args[@]+"${args[@]}"}
    scrape "$PORT_NE" "$pid_ne" "$fn" ${args[@]+"${args[@]}"}
  done
  t1_ember=$(ticks "$pid_ember")
  t1_ne=$(ticks "$pid_ne")
  echo "round $round:"
  report ember "$fe" "$t0_ember" "$t1_ember" "$series_ember"
  report debian "$fn" "$t0_ne" "$t1_ne" "$series_ne"
  echo "ratios Ember/Debian ($round): latency p50 $(ratio "$(quantile "$fe" 1 0.5)" "$(quantile "$fn" 1 0.5)") p90 $(ratio "$(quantile "$fe" 1 0.9)" "$(quantile "$fn" 1 0.9)"), CPU/scrape p50 $(ratio "$(quantile "$fe" 2 0.5)" "$(quantile "$fn" 2 0.5)") p90 $(ratio "$(quantile "$fe" 2 0.9)" "$(quantile "$fn" 2 0.9)"), utime+stime $(ratio $((t1_ember - t0_ember)) $((t1_ne - t0_ne)))"
done
