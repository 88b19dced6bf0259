#!/bin/sh
# An operator's session with the socialize command's outbox (docs/cli.md), against the sandbox
# only: a config file whose secret comes from an environment variable, `publish --queued` and
# `--at`, `jobs --status`, `job ID`, `cancel`, a `worker` stopped with SIGTERM, `--json` piped to
# python3 -m json.tool, and every exit code checked against docs/cli.md "Exit codes".
#
# SANDBOX_PORTS: the sandbox's ready file (docs/api.md, "Trying it locally").
# SOCIALIZE: how to run the command (default: lua5.4 bin/socialize, from the checkout).
set -e
[ -n "$SANDBOX_PORTS" ] || { echo "SANDBOX_PORTS is not set: start the sandbox first" >&2; exit 2; }
SOCIALIZE=${SOCIALIZE:-"lua5.4 bin/socialize"}
dir=$(mktemp -d /tmp/socialize-outbox.XXXXXX)
worker=
cleanup() { [ -z "$worker" ] || kill -KILL "$worker" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
port() { echo "$SANDBOX_PORTS" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# expect CODE ARGS...: run the command, check its exit code (docs/cli.md "Exit codes")
expect() {
    want=$1; shift
    echo "\$ socialize $*"
    set +e; $SOCIALIZE "$@"; got=$?; set -e
    [ "$got" = "$want" ] || { echo "FAILED: exit $got, expected $want" >&2; exit 1; }
    echo "(exit $got)"
}

# 1. the config: the bot token is "env:TG_BOT_TOKEN"; the player's chat in config.connections
cat >"$dir/socialize.lua" <<LUA
return {
    backend = "direct",
    allowPrivateNetworks = true, -- the sandbox is on 127.0.0.1
    timeout = 10,
    providers = { telegram = { botToken = "env:TG_BOT_TOKEN", baseUrl = "http://127.0.0.1:$(port telegram)" } },
    connections = { op_user = { telegram = { chatId = "-100777" } } },
    store = { url = "sqlite:$dir/outbox.db" },
}
LUA
export SOCIALIZE_CONFIG="$dir/socialize.lua"
U=op_user

# the variable is not set yet: a config error naming it
expect 3 publish --uid $U --title "Too early" --queued
export TG_BOT_TOKEN=123456:sandbox-bot-token

# 2. queue: now, in two seconds, in an hour (ISO time), and a bad --at (usage)
now=$($SOCIALIZE --json publish --uid $U --title "Now, via the worker" --queued | field jobID)
soon=$($SOCIALIZE --json publish --uid $U --title "In two seconds" --queued --at +2s | field jobID)
later_at=$(python3 -c 'import time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)))')
expect 0 publish --uid $U --title "In an hour" --queued --at "$later_at"
later=$($SOCIALIZE --json jobs --status queued --uid $U | python3 -c '
import json, sys
print([j["jobID"] for j in json.load(sys.stdin)["jobs"] if j["runAt"] > __import__("time").time() + 600][0])')
expect 2 publish --uid $U --title "Next week" --at +1w
expect 1 publish --uid nobody --title "No connection" --queued

expect 0 jobs --status queued
n=$($SOCIALIZE --json jobs --status queued | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["jobs"]))')
echo "($n queued jobs)"
expect 1 jobs --status bogus

# 3. one job, then cancelled; a second cancel has nothing left to cancel
expect 0 job "$later"
cancelled=$($SOCIALIZE --json cancel "$later" | field cancelled)
echo "(cancel $later: $cancelled cancelled)"
again=$($SOCIALIZE --json cancel "$later" | field cancelled)
echo "(cancel again: $again cancelled)"
expect 1 job no-such-job
expect 2 job

# 4. the worker, in the background, until both due jobs are sent; then SIGTERM
$SOCIALIZE worker --idle 200 >"$dir/worker.out" 2>"$dir/worker.err" &
worker=$!
i=0
until [ "$($SOCIALIZE --json job "$soon" | field status)" = sent ]; do
    i=$((i + 1)); [ $i -le 60 ] || { echo "FAILED: $soon not sent" >&2; cat "$dir/worker.err" >&2; exit 1; }
    sleep 0.5
done
kill -TERM "$worker"
set +e; wait "$worker"; code=$?; set -e
worker=
cat "$dir/worker.out"
[ "$code" = 5 ] || { echo "FAILED: worker exit $code, expected 5" >&2; cat "$dir/worker.err" >&2; exit 1; }
echo "(worker exit $code)"

# 5. what the outbox says now, for people and as JSON
expect 0 job "$now"
echo "\$ socialize --json job $soon | python3 -m json.tool"
$SOCIALIZE --json job "$soon" | python3 -m json.tool
for s in sent cancelled queued; do
    echo "($s: $($SOCIALIZE --json jobs --status $s --uid $U | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["jobs"]))'))"
done
# an error under --json: the error table on stdout, exit 1
set +e; out=$($SOCIALIZE --json job no-such-job 2>/dev/null); code=$?; set -e
echo "(--json error: exit $code, error $(echo "$out" | field error))"
echo ok
