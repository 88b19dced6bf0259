#!/bin/sh
# Issue 15 target 5: instructions per call (callgrind, client process only)
# against the number of calls in flight (Gigya backend, bench/hold_server.py)
# and the number of providers per call (direct backend, the sandbox).
#   sh bench/scaling.sh OUTDIR   -> lines "inflight K I" and "providers N I"
#   (SCALING_LOG=1: the providers' calls with a config.log hook)
set -e
out=${1:-build/bench}
mkdir -p "$out"
ir() { grep -E '^(summary|totals):' "$1" | head -n 1 | awk '{print $2}'; }
cg() { # name args...
    f="$out/cgs_$1"; shift
    valgrind --tool=callgrind --callgrind-out-file="$f" lua5.4 bench/scaling.lua "$@" >/dev/null 2>&1
    ir "$f"
}
for k in ${INFLIGHT_LIST:-1 10 100 1000 10000}; do
    m=$k; [ "$m" -lt 1000 ] && m=1000
    b=$(cg "i${k}_0" inflight "$k" 0)
    t=$(cg "i${k}_$m" inflight "$k" "$m")
    echo "inflight $k $(( (t - b) / m ))"
done
m=${PROVIDER_CALLS:-40}
for n in ${PROVIDERS_LIST:-1 2 4 8}; do
    b=$(cg "p${n}_0" providers "$n" 0)
    t=$(cg "p${n}_$m" providers "$n" "$m")
    echo "providers $n $(( (t - b) / m ))"
done
