#!/bin/sh
# A throwaway PostgreSQL cluster for the store specs, on a Unix socket only.
#   sh spec/pgcluster.sh start      prints the directory, then the URL
#   sh spec/pgcluster.sh stop DIR   stops it (immediate) and removes DIR
#   sh spec/pgcluster.sh kill DIR   stops it at once, keeping DIR (restart with up)
#   sh spec/pgcluster.sh up DIR     starts it again
# As root, PostgreSQL refuses to run: the cluster then belongs to nobody, in
# a directory under /tmp that nobody owns. Every wait is bounded (pg_ctl -t).
set -e
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$BIN/initdb" ] || { echo "pgcluster: PostgreSQL server binaries not found (make deps)" >&2; exit 1; }
as() { # from / : nobody cannot enter a checkout of mode 0700 (where make test may run)
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u nobody -- "$@"); else "$@"; fi
}
port=54329
ctl() { # DIR ACTION...
    d=$1; shift
    as "$BIN/pg_ctl" -D "$d/data" -l "$d/log" -w -t 30 -o "-k $d -p $port -c listen_addresses= -c fsync=off" "$@" >/dev/null
}
case "$1" in
start)
    d=$(mktemp -d /tmp/socialize-pg.XXXXXX)
    chmod 0755 "$d"
    [ "$(id -u)" -eq 0 ] && chown nobody "$d"
    as "$BIN/initdb" -D "$d/data" -A trust -U socialize -E UTF8 --no-locale >"$d/initdb.log" 2>&1 ||
        { cat "$d/initdb.log" >&2; exit 1; }
    ctl "$d" start || { cat "$d/log" >&2; exit 1; }
    echo "$d"
    echo "postgresql:///postgres?host=$d&port=$port&user=socialize&connect_timeout=5"
    ;;
kill) ctl "$2" stop -m immediate ;;
up) ctl "$2" start ;;
stop)
    case "$2" in /tmp/socialize-pg.*) ;; *) echo "pgcluster: not a cluster directory: $2" >&2; exit 1 ;; esac
    ctl "$2" stop -m immediate 2>/dev/null || true
    rm -rf "$2"
    ;;
*) echo "usage: $0 start | stop DIR | kill DIR | up DIR" >&2; exit 2 ;;
esac
