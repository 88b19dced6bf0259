#!/bin/sh
# Start the fake Gigya server and nginx (Debian's, with its Lua module) on
# 127.0.0.1 in a temporary directory, publish through examples/newcomer2/openresty,
# show what the server received, stop both. From the checkout, after
# `make LUA_VERSION=jit`: sh examples/newcomer2/openresty/run.sh
set -e
ROOT=$(pwd)
dir=$(mktemp -d /tmp/newcomer2-ngx.XXXXXX)
gpid=""
cleanup() {
    set +e
    npid=$(cat "$dir/nginx.pid" 2>/dev/null || true)
    [ -n "$npid" ] && nginx -p "$dir" -c "$dir/nginx.conf" -s quit 2>/dev/null
    [ -n "$gpid" ] && kill "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
    # nginx's master is not our child: wait (at most 10 s) until it has exited
    i=0; while [ -n "$npid" ] && kill -0 "$npid" 2>/dev/null && [ $i -lt 200 ]; do i=$((i + 1)); sleep 0.05; done
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

SECRET=$(printf 'demo-partner-secret' | base64)
cat >"$dir/conf.json" <<JSON
{"partners": {"3_demoApiKey": "$SECRET"},
 "users": {"ada": {"providers": ["facebook", "twitter"], "nickname": "Ada"}}}
JSON
python3 spec/fakes/fake_gigya.py --config "$dir/conf.json" --ready "$dir/ready" --lifetime 60 \
    >"$dir/gigya.log" 2>&1 &
gpid=$!
i=0; while [ ! -s "$dir/ready" ]; do i=$((i + 1)); [ $i -gt 100 ] && { cat "$dir/gigya.log"; exit 1; }; sleep 0.05; done
gport=$(sed -n 's/.*"http": *\([0-9]*\).*/\1/p' "$dir/ready")

# a free port on 127.0.0.1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$dir/tmp"
sed -e "s|\${PREFIX}|$dir|g" -e "s|\${ROOT}|$ROOT|g" -e "s|\${PORT}|$port|g" \
    examples/newcomer2/openresty/nginx.conf >"$dir/nginx.conf"
[ "$(id -u)" = 0 ] && sed -i "s|^worker_processes|user $(id -un) $(id -gn);\nworker_processes|" "$dir/nginx.conf"
GIGYA_URL="http://127.0.0.1:$gport" GIGYA_API_KEY=3_demoApiKey GIGYA_SECRET=$SECRET \
    nginx -p "$dir" -c "$dir/nginx.conf"
echo "nginx in $dir, pid $(cat "$dir/nginx.pid"), fake Gigya pid $gpid"
i=0; while ! curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do i=$((i + 1)); [ $i -gt 100 ] && { cat "$dir/error.log"; exit 1; }; sleep 0.05; done

echo "published: $(curl -s "http://127.0.0.1:$port/publish?uid=ada&title=Level%203")"
echo "unknown user: $(curl -s "http://127.0.0.1:$port/publish?uid=nobody&title=Level%203")"
echo "no uid: $(curl -s "http://127.0.0.1:$port/publish?title=Level%203")"
echo "the server received:"

curl -s "http://127.0.0.1:$gport/__requests" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    p = r["params"]
    print("  POST %s UID=%s sig=%s" % (r["path"], p.get("UID"), "yes" if p.get("sig") else "no"))'
echo "error.log:"; cat "$dir/error.log"
echo ok
