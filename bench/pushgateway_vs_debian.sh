#!/usr/bin/env bash
# Side-by-side Pushgateway load: Debian's prometheus-pushgateway and `ember
# pushgateway`, one after the other in the same run, each receiving GROUPS groups of
# SERIES gauges pushed (PUT, text format) by CLIENTS concurrent clients, ROUNDS
# times (the first round creates the groups, later ones replace them). Reports per
# gateway: pushes/s of each round, resident memory after the load (VmRSS) and its
# peak (VmHWM), CPU seconds used, and the time of one scrape of /metrics; then the
# ratios Ember/Debian.
# Needs: apt-get install prometheus-pushgateway. Usage:
#   bench/pushgateway_vs_debian.sh [GROUPS] [SERIES] [CLIENTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
groups=${1:-1000}; series=${2:-100}; clients=${3:-8}; rounds=${4:-3}
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release -q -p ember-cli
cargo build --release -q -p ember-pushgateway --example push_load
load=./target/release/examples/push_load
wait_up() { for _ in $(seq 200); do curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null && return; sleep 0.05; done; echo "not up on $1" >&2; exit 1; }
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }

run_one() { # name port command...
  local name=$1 port=$2; shift 2
  "$@" >"$work/$name.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_up "$port"
  local cpu0; cpu0=$(cpu_s "$pid")
  "$load" "127.0.0.1:$port" "$groups" "$series" "$clients" "$rounds" | tee "$work/$name.rounds" | sed "s/^/$name /"
  # A round with refused or unanswered pushes measured something else than the
  # load asked for: its pushes/s would flatter the gateway, so stop here.
  local bad; bad=$(awk '$1 == "round" && $9 == "failed" && $10 > 0' "$work/$name.rounds")
  if [ -n "$bad" ]; then
    echo "$name: pushes failed, aborting (no ratios from a failing run):" >&2
    echo "$bad" | sed "s/^/$name /" >&2
    exit 1
  fi
  local cpu1; cpu1=$(cpu_s "$pid")
  local t0 t1 lines
  t0=$(date +%s.%N); lines=$(curl -s "http://127.0.0.1:$port/metrics" | wc -l); t1=$(date +%s.%N)
  local rss hwm; rss=$(kb "$pid" VmRSS); hwm=$(kb "$pid" VmHWM)
  # Median over the replacing rounds (round 0 creates the groups).
  local pps; pps=$(awk '$2>0 {print $8}' "$work/$name.rounds" | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}')
  echo "$name median_pushes_per_second $pps rss_kb $rss peak_rss_kb $hwm cpu_seconds $(echo "$cpu1 - $cpu0" | bc) scrape_seconds $(echo "$t1 - $t0" | bc) scrape_lines $lines" | tee "$work/$name.summary"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "# $groups groups x $series series, $clients clients, $rounds rounds; $(nproc) cores"
run_one debian 19391 prometheus-pushgateway --web.listen-address=127.0.0.1:19391 --persistence.file=
run_one ember 19392 ./target/release/ember pushgateway --web.listen-address=127.0.0.1:19392 --log.level=warn
read -r _ _ dp _ dr _ dh _ dc _ ds _ < "$work/debian.summary"
read -r _ _ ep _ er _ eh _ ec _ es _ < "$work/ember.summary"
ratio() { echo "scale=4; $1 / $2" | bc; }
echo "ratio ember/debian: pushes_per_second $(ratio "$ep" "$dp") rss $(ratio "$er" "$dr") peak_rss $(ratio "$eh" "$dh") cpu $(ratio "$ec" "$dc") scrape_time $(ratio "$es" "$ds")"
