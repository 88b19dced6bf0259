#!/bin/sh
# make bench, OpenResty part (issue 15 target 4): requests/s of handlers
# that sign and send one publishUserAction to the same upstream over
# keep-alive, side by side with a plain proxy_pass and a bare cosocket round
# trip, in one run (wrk, interleaved repetitions, medians). Its own nginx
# (bench/nginx.conf, one worker), everything on 127.0.0.1.
# Usage: sh bench/resty.sh [outdir]; REPS, WRK_SECONDS, WRK_CONNS, MODES override;
# FRONT_LOOP=N also times the front alone (bench/front_loop.lua, N calls).
set -e
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REPS=${REPS:-5}
SECS=${WRK_SECONDS:-3}
CONNS=${WRK_CONNS:-32}
out=${1:-build/bench}/resty
case $out in /*) ;; *) out=$ROOT/$out;; esac
rm -rf "$out"; mkdir -p "$out/nginx/tmp"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port); PORT=$(port)
sed -e "s|\${PREFIX}|$out/nginx|g" -e "s|\${ROOT}|$ROOT|g" -e "s|\${PORT}|$PORT|g" \
    -e "s|\${UPSTREAM_PORT}|$UP|g" bench/nginx.conf >"$out/nginx/nginx.conf"
[ "$(id -u)" = 0 ] && sed -i "1i user $(id -un) $(id -gn);" "$out/nginx/nginx.conf"
UPSTREAM_PORT=$UP nginx -p "$out/nginx" -c "$out/nginx/nginx.conf"
trap 'nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" -s quit 2>/dev/null || true' EXIT INT TERM
sleep 0.3
MODES=${MODES:-"proxy bare bare_upstream publish publish_upstream"}
for m in $MODES; do # warm-up, and a check that each answers 200
    code=$(curl -s -o "$out/first_$m" -w '%{http_code}' "http://127.0.0.1:$PORT/$m")
    [ "$code" = 200 ] || { echo "/$m answered $code: $(cat "$out/first_$m")"; exit 1; }
    wrk -t2 -c"$CONNS" -d1s "http://127.0.0.1:$PORT/$m" >/dev/null
done
# the worker's CPU time per request (utime + stime from /proc, which also
# counts serving the upstream's own request: the same worker answers it) is
# steadier than requests/s on a shared machine
W=$(pgrep -P "$(cat "$out/nginx/nginx.pid")")
cpu() { awk '{print $14 + $15}' "/proc/$W/stat"; }
for r in $(seq "$REPS"); do
    for m in $MODES; do
        c0=$(cpu)
        wrk -t2 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$PORT/$m" >"$out/wrk_${m}_$r.txt"
        c1=$(cpu)
        awk '/Requests\/sec/ {print $2}' "$out/wrk_${m}_$r.txt" >>"$out/rps_$m"
        awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '/ requests in / {printf "%.1f\n", t / hz / $1 * 1e6}' \
            "$out/wrk_${m}_$r.txt" >>"$out/cpu_$m"
        if grep -q "Non-2xx" "$out/wrk_${m}_$r.txt"; then echo "/$m: non-2xx answers"; grep Non-2xx "$out/wrk_${m}_$r.txt"; fi
    done
done
if grep -q "\[error\]" "$out/nginx/error.log" 2>/dev/null; then
    echo "nginx logged errors:"; grep "\[error\]" "$out/nginx/error.log" | head -n 5
fi
if [ -n "${FRONT_LOOP:-}" ]; then # the front alone, N calls in a hot loop inside this worker, 3 runs
    for i in 1 2 3; do
        echo "front_loop n=$FRONT_LOOP: $(curl -s "http://127.0.0.1:$PORT/front_loop?n=$FRONT_LOOP" | head -n 1)"
    done
fi
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
wp=$(median <"$out/rps_proxy")
wc=$(median <"$out/cpu_proxy")
echo "| OpenResty, one worker, wrk -t2 -c$CONNS, ${REPS}x${SECS}s interleaved (medians) | requests/s | vs proxy_pass | worker CPU µs/request | proxy_pass CPU / this |"
echo "|---|---|---|---|---|"
for m in $MODES; do
    v=$(median <"$out/rps_$m")
    case $m in
        proxy) label="plain proxy_pass to the upstream (keepalive 64)";;
        bare) label="bare cosocket round trip, prebuilt request (reference)";;
        bare_upstream) label="bare subrequest to the same internal location, prebuilt request (reference)";;
        publish) label="socialize publishUserAction, cosockets (default)";;
        publish_upstream) label="socialize publishUserAction, config.restyUpstream (nginx upstream)";;
        *) label="/$m (bench/front_loop.lua)";;
    esac
    c=$(median <"$out/cpu_$m")
    echo "| $label | $v | $(ratio "$v" "$wp") | $c | $(ratio "$wc" "$c") |"
    echo "$v" >"$out/median_$m"
done
