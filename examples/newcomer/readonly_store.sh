#!/bin/sh
# A newcomer checks what docs/store.md ("Faults", "Read-only") promises for a SQLite store on a
# read-only file system: a real tmpfs (needs root), written, remounted read-only, always
# unmounted. Three stores on it:
#   a.db  closed cleanly                       -> opens, reads, every write is store_readonly
#   b.db  its process died without close()    -> opens with its -wal (the last commit is read)
#   c.db  a -wal without its -shm              -> open refused, store_readonly
# and a path that does not exist there (store_io), a symlink to a.db, and a client on a.db
# (a queued publish, enqueueMany and work answer 500001 with err.error = "store_readonly").
#
# LUA: the interpreter (default lua5.4); LUA_PATH/LUA_CPATH as for the other examples.
set -e
LUA=${LUA:-lua5.4}
[ "$(id -u)" = 0 ] || { echo "readonly_store.sh mounts a tmpfs: run it as root" >&2; exit 2; }
work=$(mktemp -d /tmp/socialize-ro.XXXXXX)
mnt="$work/mnt"
mkdir "$mnt"
cleanup() { umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
mount -t tmpfs -o size=1m tmpfs "$mnt"

cat >"$work/ro.lua" <<'LUA'
local store = require("socialize.store")
local KEY = os.getenv("STORE_KEY")
local mode, path = arg[1], arg[2]
local function show(...) local t = { ... }; for i = 1, select("#", ...) do t[i] = tostring(t[i]) end; print(table.concat(t, " ")) end
if mode == "write" or mode == "crash" then
    local s = assert(store.open("sqlite:" .. path, { keys = { KEY } }))
    assert(s:put_connection { UID = "u1", provider = "twitter", account = "1", secrets = { accessToken = "tok-1" } })
    if mode == "crash" then
        assert(s:put_connection { UID = "u2", provider = "twitter", account = "2", secrets = { accessToken = "tok-2" } })
        os.exit(0, false) -- gone without close(): its -wal and -shm stay
    end
    s:close()
elseif mode == "read" then
    local s, err, name = store.open("sqlite:" .. path, { keys = { KEY } })
    if not s then show("  open: refused", name, err) return end
    local c1, c2 = s:get_connection("u1", "twitter"), s:get_connection("u2", "twitter")
    show("  open: ok; u1", c1 and c1.secrets.accessToken, "u2", c2 and c2.secrets.accessToken)
    local ok, perr, pname = s:put_connection { UID = "u3", provider = "twitter", account = "3", secrets = { accessToken = "tok-3" } }
    show("  put:", ok, pname, perr)
    s:close()
elseif mode == "client" then
    local socialize = require("socialize")
    local c = socialize.new { backend = "direct", providers = { telegram = { botToken = "1:sandbox" } },
        connections = { u = { telegram = { chatId = "1" } } }, store = { url = "sqlite:" .. path, keys = { KEY } } }
    local r, e = c:publishUserAction({ UID = "u", userAction = { title = "t" } }, { deliver = "queued" })
    show("  queued:", r, e and e.errorCode, e and e.error)
    r, e = c:enqueueMany({ { method = "publishUserAction", params = { UID = "u", userAction = { title = "t" } } } })
    show("  enqueueMany:", r, e and e.errorCode, e and e.error, e and e.index)
    r, e = c:work(100)
    show("  work:", r, e and e.errorCode, e and e.error)
    show("  jobs:", #assert(c:jobs {}).jobs)
end
LUA
STORE_KEY=$(openssl rand -base64 32); export STORE_KEY
ro() { echo "$1"; $LUA "$work/ro.lua" "$2" "$mnt/$3"; }

$LUA "$work/ro.lua" write "$mnt/a.db"
$LUA "$work/ro.lua" crash "$mnt/b.db"
cp "$mnt/b.db" "$mnt/c.db"; cp "$mnt/b.db-wal" "$mnt/c.db-wal" # a -wal without its -shm
ln -s "$mnt/a.db" "$mnt/link.db"
echo "files: $(cd "$mnt" && ls | tr '\n' ' ')"
mount -o remount,ro "$mnt"

ro "a.db, closed cleanly:" read a.db
ro "b.db, with its -wal and -shm:" read b.db
ro "c.db, a -wal without its -shm:" read c.db
ro "link.db, a symlink to a.db:" read link.db
ro "none.db, not there:" read none.db
ro "a client on a.db:" client a.db
echo "files after: $(cd "$mnt" && ls | tr '\n' ' ')"
echo ok
