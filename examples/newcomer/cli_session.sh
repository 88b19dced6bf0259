#!/bin/sh
# A newcomer's session with the socialize command (docs/cli.md), against the sandbox only:
# a config file whose secrets come from environment variables, `connect` through the loopback
# listener (X) and with --paste (LinkedIn), `connections`, a publish now, `publish --queued`,
# `jobs`, `worker --once`, `job ID`, `--json` output, `disconnect`.
# System curl plays the browser: it GETs the authorization URL and goes where it redirects.
#
# SANDBOX_PORTS: the sandbox's ready file (docs/api.md, "Trying it locally").
# SOCIALIZE: how to run the command (default: lua5.4 bin/socialize, from the checkout).
set -e
[ -n "$SANDBOX_PORTS" ] || { echo "SANDBOX_PORTS is not set: start the sandbox first" >&2; exit 2; }
SOCIALIZE=${SOCIALIZE:-"lua5.4 bin/socialize"}
dir=$(mktemp -d /tmp/socialize-newcomer.XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
port() { echo "$SANDBOX_PORTS" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
run() { echo "\$ socialize $*"; $SOCIALIZE "$@"; }

# 1. the config file: a Lua chunk returning socialize.new's table; the secrets are "env:NAME"
# (the sandbox's apps: tw-client-id / li-client-id, docs/connections.md "The sandbox")
cat >"$dir/socialize.lua" <<LUA
return {
    backend = "direct",
    allowPrivateNetworks = true, -- the sandbox is on 127.0.0.1
    timeout = 10,
    providers = {
        twitter  = { baseUrl = "http://127.0.0.1:$(port twitter)", clientId = "tw-client-id",
                     clientSecret = "env:TW_CLIENT_SECRET" },
        linkedin = { baseUrl = "http://127.0.0.1:$(port linkedin)", clientId = "li-client-id",
                     clientSecret = "env:LI_CLIENT_SECRET" },
    },
    store = { url = "sqlite:$dir/socialize.db", keys = { "env:STORE_KEY" } },
}
LUA
export SOCIALIZE_CONFIG="$dir/socialize.lua"
export TW_CLIENT_SECRET=tw-client-secret LI_CLIENT_SECRET=li-client-secret
STORE_KEY=$(openssl rand -base64 32); export STORE_KEY
U=newcomer_cli_user

# 2. connect X through the loopback listener: the command prints the URL and listens for the
# callback on 127.0.0.1; the "browser" opens the URL and follows its redirect to the listener
echo "\$ socialize connect twitter --uid $U"
$SOCIALIZE connect twitter --uid $U >"$dir/connect.out" &
cpid=$!
i=0
until grep -q '^http' "$dir/connect.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "no authorization URL" >&2; exit 1; }; sleep 0.1
done
url=$(grep -m1 '^http' "$dir/connect.out")
back=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
curl -s "$back" >/dev/null
wait $cpid
cat "$dir/connect.out"

# 3. connect LinkedIn with --paste: the URL the browser landed on is pasted on stdin
echo "\$ socialize connect linkedin --uid $U --paste"
mkfifo "$dir/paste"
$SOCIALIZE connect linkedin --uid $U --paste <"$dir/paste" >"$dir/paste.out" &
cpid=$!
exec 3>"$dir/paste"
i=0
until grep -q '^http' "$dir/paste.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "no authorization URL" >&2; exit 1; }; sleep 0.1
done
url=$(grep -m1 '^http' "$dir/paste.out")
curl -s -o /dev/null -w '%{redirect_url}\n' "$url" >&3
exec 3>&-
wait $cpid
cat "$dir/paste.out"

# 4. the connections, as a table and as JSON
run connections --uid $U
n=$($SOCIALIZE --json connections --uid $U | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["identities"]))')
echo "($n identities in --json connections)"
[ "$n" = 2 ]

# 5. publish now, then queued; the jobs; the worker; the job
run publish --uid $U --title "Newcomer: level 5" --link https://game.example/l5
run publish --uid $U --title "Newcomer: later" --queued --key "newcomer-later-$U"
run publish --uid $U --title "Newcomer: later" --queued --key "newcomer-later-$U" 2>&1   # the same job
job=$($SOCIALIZE --json jobs --uid $U | python3 -c 'import json, sys; print(json.load(sys.stdin)["jobs"][0]["jobID"])')
run jobs --uid $U
run worker --once
run job "$job"
status=$($SOCIALIZE --json job "$job" | field status)
echo "(job $job: $status)"
[ "$status" = sent ]

# 6. a job queued for tomorrow, cancelled
cancel=$($SOCIALIZE --json publish --uid $U --title "Newcomer: tomorrow" --at +1d | field jobID)
run cancel "$cancel"
run --json job "$cancel"
echo
[ "$($SOCIALIZE --json job "$cancel" | field status)" = cancelled ]

# 7. disconnect LinkedIn
run disconnect linkedin --uid $U
run connections --uid $U
echo ok
