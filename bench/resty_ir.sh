#!/bin/sh
# The instructions the nginx worker runs per request of each handler
# (callgrind; steadier than CPU time on a shared machine): bench/nginx.conf's
# nginx in one process (master_process off) under valgrind, a warm-up of W
# requests per handler, then the counters zeroed, N keep-alive requests
# (python3 http.client, one connection), the counters dumped.
# Usage: sh bench/resty_ir.sh [outdir]; MODES, N (default 2000), W (1000).
# The counts include serving the upstream's request (the same worker).
set -e
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-2000}
W=${W:-1000}
MODES=${MODES:-"proxy bare publish publish_upstream"}
out=${1:-build/bench}/resty_ir
case $out in /*) ;; *) out=$ROOT/$out;; esac
rm -rf "$out"; mkdir -p "$out/nginx/tmp"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port); PORT=$(port)
sed -e "s|\${PREFIX}|$out/nginx|g" -e "s|\${ROOT}|$ROOT|g" -e "s|\${PORT}|$PORT|g" \
    -e "s|\${UPSTREAM_PORT}|$UP|g" -e "s|^worker_processes 1;|worker_processes 1; master_process off; daemon off;|" \
    bench/nginx.conf >"$out/nginx/nginx.conf"
[ "$(id -u)" = 0 ] && sed -i "1i user $(id -un) $(id -gn);" "$out/nginx/nginx.conf"
UPSTREAM_PORT=$UP valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$out/cg.%p" \
    nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" 2>"$out/valgrind.log" &
VG=$!
trap 'kill $VG 2>/dev/null || true' EXIT INT TERM
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/proxy"; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "nginx did not start"; cat "$out/valgrind.log"; exit 1; }
    sleep 0.2
done
reqs() { # mode count
    python3 - "$PORT" "$1" "$2" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(int(sys.argv[3])):
    c.request("GET", "/" + sys.argv[2]); r = c.getresponse(); r.read()
    if r.status != 200: sys.exit("status %d" % r.status)
PY
}
echo "| handler (nginx worker under callgrind, $N keep-alive requests after $W) | instructions per request |"
echo "|---|---|"
for m in $MODES; do
    reqs "$m" "$W"
    callgrind_control -z "$VG" >/dev/null 2>&1
    reqs "$m" "$N"
    rm -f "$out"/cg.*
    callgrind_control -d "$VG" >/dev/null 2>&1
    sleep 0.5
    ir=$(cat "$out"/cg.* | awk '/^summary:/ {s += $2} /^totals:/ {t += $2} END {print (t ? t : s)}')
    echo "| /$m | $((ir / N)) |"
done
