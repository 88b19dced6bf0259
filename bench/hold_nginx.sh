#!/bin/sh
# Holding HTTP/1.1 and HTTP/2 server for bench/curl_inflight.c and
# bench/async_memory.lua, the same contract as bench/hold_server.py but in
# Debian's nginx with its Lua module (one worker): it reads every request
# whole, counts it (the count written to DIR/count), and answers none until
# DIR/release exists (or after 60 s). Three listeners on 127.0.0.1:
# HTTP/1.1, HTTP/2 over cleartext (prior knowledge, h2c) and HTTPS with
# HTTP/2 by ALPN (a self-signed certificate for 127.0.0.1, DIR/cert.pem,
# which is its own CA). DIR/ready gets {"http": P1, "h2c": P2, "https": P3}
# once nginx answers; DIR/conns counts the connections it has accepted,
# DIR/h2 the requests that came over HTTP/2.
#   STREAMS=128 sh bench/hold_nginx.sh start DIR   (streams per connection)
#   sh bench/hold_nginx.sh stop DIR
set -eu
cmd=$1
dir=$2
if [ "$cmd" = stop ]; then
    [ -f "$dir/nginx.conf" ] && nginx -p "$dir" -c "$dir/nginx.conf" -s quit 2>/dev/null || true
    i=0
    while [ -f "$dir/nginx.pid" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
    [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    exit 0
fi
mkdir -p "$dir/logs"
rm -f "$dir/ready" "$dir/count" "$dir/conns" "$dir/h2" "$dir/release" # a previous run's
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
user=""
if [ "$(id -u)" = 0 ]; then user="user $(id -un) $(id -gn);"; fi
streams=${STREAMS:-128}
n=0
while :; do
    n=$((n + 1))
    p1=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
    p2=$((p1 + 1))
    p3=$((p1 + 2))
    cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
$user
worker_processes 1;
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 19000; }
http {
    access_log off;
    client_body_temp_path $dir/logs/body;
    proxy_temp_path $dir/logs/proxy;
    fastcgi_temp_path $dir/logs/fastcgi;
    uwsgi_temp_path $dir/logs/uwsgi;
    scgi_temp_path $dir/logs/scgi;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_body_timeout 120s;
    send_timeout 120s;
    http2_max_concurrent_streams $streams;
    init_worker_by_lua_block {
        local sem = require("ngx.semaphore").new()
        HOLD = { sem = sem, released = false, n = 0, conns = {}, nconns = 0, h2 = 0 }
        local written, wconns, wh2 = -1, -1, -1
        local function put(path, v)
            local f = io.open(path .. ".tmp", "w")
            if f then f:write(v, "\n") f:close() os.rename(path .. ".tmp", path) end
        end
        local function tick(premature)
            if premature then return end
            -- count last: once it shows n, conns and h2 are as of those n
            if HOLD.nconns ~= wconns then put("$dir/conns", HOLD.nconns) wconns = HOLD.nconns end
            if HOLD.h2 ~= wh2 then put("$dir/h2", HOLD.h2) wh2 = HOLD.h2 end
            if HOLD.n ~= written then put("$dir/count", HOLD.n) written = HOLD.n end
            local f = io.open("$dir/release")
            HOLD.released = f ~= nil
            if f then f:close() end
            if HOLD.released and sem:count() < 0 then sem:post(-sem:count()) end
        end
        ngx.timer.every(0.05, tick)
    }
    server {
        listen 127.0.0.1:$p1 backlog=16384;
        listen 127.0.0.1:$p2 http2 backlog=16384;
        listen 127.0.0.1:$p3 ssl http2 backlog=16384;
        ssl_certificate $dir/cert.pem;
        ssl_certificate_key $dir/key.pem;
        location = /health { return 200 "ok\n"; }
        location / {
            content_by_lua_block {
                ngx.req.read_body()
                local c = ngx.var.connection
                if not HOLD.conns[c] then HOLD.conns[c] = true HOLD.nconns = HOLD.nconns + 1 end
                if ngx.var.server_protocol == "HTTP/2.0" then HOLD.h2 = HOLD.h2 + 1 end
                HOLD.n = HOLD.n + 1
                local t0 = ngx.now()
                while not HOLD.released and ngx.now() - t0 < 60 do HOLD.sem:wait(60 - (ngx.now() - t0)) end
                local body = '{"errorCode":0,"statusCode":200,"statusReason":"OK","callId":"hold"}'
                ngx.header["Content-Type"] = "application/json"
                ngx.header["Content-Length"] = #body
                ngx.print(body)
            }
        }
    }
}
EOF
    if out=$(nginx -p "$dir" -c "$dir/nginx.conf" 2>&1); then break; fi
    case $out in *"Address already in use"*) [ $n -lt 20 ] && continue ;; esac
    echo "$out" >&2
    exit 1
done
i=0
until curl -sf "http://127.0.0.1:$p1/health" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then cat "$dir/logs/error.log" >&2; exit 1; fi
    sleep 0.05
done
printf '{"http": %d, "h2c": %d, "https": %d, "pid": %s}\n' "$p1" "$p2" "$p3" "$(cat "$dir/nginx.pid")" >"$dir/ready.tmp"
mv "$dir/ready.tmp" "$dir/ready"
