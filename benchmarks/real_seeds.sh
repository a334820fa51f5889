#!/usr/bin/env bash
# The real-run benchmark (run.py) on several search seeds at once, for a machine with many cores:
#
#   bash benchmarks/real_seeds.sh OUT [SEEDS] [JOBS_PER_SEED] [run.py options...]
#
# Each seed (default 0,1,2) runs as its own run.py, JOBS_PER_SEED (default 5) jobs of one torch
# thread each, beside the others, with autolr's default at N and N/2 and the methods (a)-(e) it
# is judged against; its results go to OUT/seed<S>/results.json and its log to OUT/seed<S>.log.
# PYTHON names the interpreter (default: python). benchmarks/report_md.py renders them (copy
# a seed's folder to results/seed<S>/ first).
set -uo pipefail
out=${1:?usage: real_seeds.sh OUT [SEEDS] [JOBS_PER_SEED] [run.py options...]}
seeds=${2:-0,1,2}
jobs=${3:-5}
shift $(($# < 3 ? $# : 3))
methods=autolr_lr_first,autolr_lr_first_half,autolr_full,hand,optuna_lr,random,linear_cosine,schedulefree
here=$(cd "$(dirname "$0")" && pwd)
status=0
pids=()
for seed in ${seeds//,/ }; do
  mkdir -p "$out/seed$seed"
  "${PYTHON:-python}" "$here/run.py" --methods "$methods" --seed "$seed" --jobs "$jobs" --threads 1 \
    --no-readme --output-dir "$out/seed$seed" "$@" >"$out/seed$seed.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
exit $status
