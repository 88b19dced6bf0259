#!/bin/sh
# Profiling aid (issue 15 target 4): which traces of an OpenResty handler
# compile. Starts bench/nginx.conf's nginx with LuaJIT's jit.v (or jit.dump,
# JIT_MODULE=dump) writing to OUTDIR/jit.txt, sends N requests to /MODE with
# wrk, then prints the trace aborts found in it.
# Usage: sh bench/resty_jit.sh [MODE [OUTDIR]]; MODE default publish.
set -e
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-publish}
out=${2:-build/bench}/resty_jit
case $out in /*) ;; *) out=$ROOT/$out;; esac
JIT_MODULE=${JIT_MODULE:-v}
rm -rf "$out"; mkdir -p "$out/nginx/tmp"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port); PORT=$(port)
sed -e "s|\${PREFIX}|$out/nginx|g" -e "s|\${ROOT}|$ROOT|g" -e "s|\${PORT}|$PORT|g" \
    -e "s|\${UPSTREAM_PORT}|$UP|g" \
    -e "s|;;\";|;/usr/share/luajit-2.1.0-beta3/?.lua;;\";|" \
    -e "s|keepalive_requests 1000000;|keepalive_requests 1000000; init_worker_by_lua_block { require(\"jit.$JIT_MODULE\").on(\"$out/jit.txt\") }|" \
    bench/nginx.conf >"$out/nginx/nginx.conf"
[ "$(id -u)" = 0 ] && sed -i "1i user $(id -un) $(id -gn);" "$out/nginx/nginx.conf"
UPSTREAM_PORT=$UP nginx -p "$out/nginx" -c "$out/nginx/nginx.conf"
trap 'nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" -s quit 2>/dev/null || true' EXIT INT TERM
sleep 0.3
curl -s "http://127.0.0.1:$PORT/$MODE" >/dev/null
wrk -t1 -c4 -d"${WRK_SECONDS:-2}s" "http://127.0.0.1:$PORT/$MODE" | grep -E "Requests/sec|Non-2xx" || true
sleep 0.2
echo "aborts (count, reason):"
grep -E "^\[TRACE --- " "$out/jit.txt" | sed -E 's/^\[TRACE --- (\([0-9]+\/[0-9a-z]+\) )?//' | sort | uniq -c | sort -rn | head -40
echo "traces compiled: $(grep -cE '^\[TRACE +[0-9]+ ' "$out/jit.txt" || true), aborted: $(grep -c '^\[TRACE --- ' "$out/jit.txt" || true)"
