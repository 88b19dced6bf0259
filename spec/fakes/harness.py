#!/usr/bin/env python3
"""The test harness's side of the fakes: starts them, stops them, and relays
the specs' control requests, so that no spec drives a fake through the code
under test (socialize.curl, core.json_*).

  harness.py start DIR [NAME ...] [--lifetime S]
      Starts the fakes (default: all of them) on 127.0.0.1, each in the
      background with a bounded lifetime, waits until each is ready, and
      writes DIR/fakes.lua: a Lua chunk returning
        { dir = DIR, pids = {...}, gigya = {http = P, https = Q}, untrusted = {...},
          sandbox = {twitter = P, ..., control = Q, demo = {...}},
          faults = {http = P}, listener = {trap = P, control = Q, v6 = bool} }
      The keys (a CA, a certificate for 127.0.0.1 it signed, one nobody
      trusts, an RSA pair for JWT bearer auth) are made in DIR once.
      Prints the path of fakes.lua. NAME: gigya untrusted sandbox faults listener.
  harness.py stop DIR
      Stops the fakes started in DIR (DIR/fakes.pids: TERM, then KILL),
      bounded in time.
  harness.py relay
      For spec/helper.lua: makes a FIFO, prints its path, then reads control
      requests from it, one a line: "METHOD URL BODY" (BODY: the rest of the
      line, JSON). Answers each with one line on stdout, a Lua chunk:
      `return {status = N, value = <the JSON reply as a Lua value>}` or
      `return {error = "..."}`. Exits on "quit", when the reader of its
      output closes it, or when its parent is gone.
"""
import argparse, http.client, json, math, os, select, shutil, signal, subprocess, sys, tempfile, time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ("gigya", "untrusted", "sandbox", "faults", "listener")

# The fake Gigya server's accounts; spec/helper.lua holds the same values
# (H.API_KEY, H.SECRET, H.USER_KEY, H.USER_SECRET, H.JWT_USER_KEY, H.TOKEN).
API_KEY = "3_fakeApiKey"
SECRET = "c29jaWFsaXplLXJlZmVyZW5jZS1zZWNyZXQtMDAwMQ=="
USER_KEY = "AFakeUserKey"
USER_SECRET = "dXNlci1rZXktc2VjcmV0LWZvci1zb2NpYWxpemU="
JWT_USER_KEY = "AJwtUserKey"
TOKEN = "st2.fakeOAuthToken.1"


def gigya_conf(d):
    return {
        "partners": {API_KEY: SECRET},
        "userKeys": {USER_KEY: {"secret": USER_SECRET}, JWT_USER_KEY: {"publicKey": os.path.join(d, "jwt.pub")}},
        "tokens": {TOKEN: {"apiKey": API_KEY, "UID": "user_oauth"}},
        "users": {
            "user_123": {"providers": ["facebook", "twitter", "linkedin"], "nickname": "Demo User"},
            "user_oauth": {"providers": ["facebook"]},
            "user_fb_fails": {"providers": ["facebook", "twitter"], "failing": {"facebook": 403009}},
            "user_all_fail": {"providers": ["twitter"], "failing": {"twitter": 403024}},
            "user_none": {"providers": []},
        },
    }


# ---- Lua literals -------------------------------------------------------
def lua_str(s):
    b = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
    out = ['"']
    for c in b:
        if c in (34, 92):
            out.append("\\" + chr(c))
        elif 32 <= c < 127:
            out.append(chr(c))
        else:
            out.append("\\%03d" % c)
    out.append('"')
    return "".join(out)


def lua(v):
    """A JSON value as a Lua expression on one line (null: nil)."""
    if v is None:
        return "nil"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "(0/0)"
        if math.isinf(v):
            return "(1/0)" if v > 0 else "(-1/0)"
        return repr(v)
    if isinstance(v, str):
        return lua_str(v)
    if isinstance(v, list):
        return "{" + ",".join(lua(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ",".join("[%s]=%s" % (lua_str(str(k)), lua(x)) for k, x in v.items()) + "}"
    raise TypeError("no Lua literal for %r" % (v,))


# ---- start / stop -------------------------------------------------------
def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_keys(d):
    if os.path.exists(os.path.join(d, "jwt.pub")):
        return
    j = lambda f: os.path.join(d, f)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=socialize-test-ca",
       "-keyout", j("ca.key"), "-out", j("ca.pem"))
    with open(j("san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", j("server.key"),
       "-out", j("server.csr"))
    sh("openssl", "x509", "-req", "-in", j("server.csr"), "-CA", j("ca.pem"), "-CAkey", j("ca.key"),
       "-CAcreateserial", "-days", "2", "-extfile", j("san.cnf"), "-out", j("server.pem"))
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=untrusted",
       "-keyout", j("other.key"), "-out", j("other.pem"))
    sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", j("jwt.pem.tmp"))
    sh("openssl", "pkey", "-in", j("jwt.pem.tmp"), "-pubout", "-out", j("jwt.pub.tmp"))
    os.rename(j("jwt.pem.tmp"), j("jwt.pem"))
    os.rename(j("jwt.pub.tmp"), j("jwt.pub"))


def command(name, d, lifetime):
    ready = os.path.join(d, name + ".ready")
    base = [sys.executable, "-u"]
    life = ["--lifetime", str(lifetime), "--ready", ready]
    if name in ("gigya", "untrusted"):
        conf = os.path.join(d, "gigya.json")
        cert = "server" if name == "gigya" else "other"
        return base + [os.path.join(HERE, "fake_gigya.py"), "--config", conf, "--cert", os.path.join(d, cert + ".pem"),
                       "--key", os.path.join(d, cert + ".key")] + life, ready
    script = {"sandbox": "sandbox.py", "faults": "faults.py", "listener": "listener.py"}[name]
    return base + [os.path.join(HERE, script)] + life, ready


def start(d, names, lifetime):
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    make_keys(d)
    with open(os.path.join(d, "gigya.json"), "w") as f:
        json.dump(gigya_conf(d), f)
    procs = {}
    for name in names:
        cmd, ready = command(name, d, lifetime)
        if os.path.exists(ready):
            os.remove(ready)
        log = open(os.path.join(d, name + ".log"), "w")
        procs[name] = (subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True),
                       ready)
    info = {"dir": d, "pids": {}}
    deadline = time.time() + 60
    try:
        for name, (p, ready) in procs.items():
            while not os.path.exists(ready):
                if p.poll() is not None or time.time() > deadline:
                    raise SystemExit("harness: %s did not start:\n%s" % (name, open(os.path.join(d, name + ".log")).read()))
                time.sleep(0.02)
            with open(ready) as f:
                r = json.load(f)
            info["pids"][name] = r.pop("pid")
            info[name] = r
    except BaseException:
        for p, _ in procs.values():
            p.kill()
        raise
    with open(os.path.join(d, "fakes.pids"), "a") as f:  # a second start in DIR adds its own
        f.write("\n".join(str(p) for p in info["pids"].values()) + "\n")
    path = os.path.join(d, "fakes.lua")
    with open(path + ".tmp", "w") as f:
        f.write("return " + lua(info) + "\n")
    os.rename(path + ".tmp", path)
    print(path)
    return 0


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # a zombie child of ours counts as gone
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def stop(d):
    path = os.path.join(d, "fakes.pids")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        pids = [int(x) for x in f.read().split()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + 5
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    for f in ("fakes.pids", "fakes.lua"):
        try:
            os.remove(os.path.join(d, f))
        except OSError:
            pass
    return 0


# ---- relay ----------------------------------------------------------------
def control(line):
    method, _, rest = line.partition(" ")
    url, _, body = rest.partition(" ")
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        headers = {"Connection": "close"}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        conn.request(method, u.path or "/", body=body.encode("utf-8") if method == "POST" else None, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        try:
            value = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            return "return {status=%d,error=%s}" % (r.status, lua_str("not JSON: " + raw[:200].decode("latin-1")))
        return "return {status=%d,value=%s}" % (r.status, lua(value))
    except (OSError, http.client.HTTPException) as e:
        return "return {error=%s}" % lua_str("%s %s: %s" % (method, url, e))
    finally:
        conn.close()


def relay():
    d = tempfile.mkdtemp(prefix="relay-", dir=os.environ.get("SOCIALIZE_TEST_TMP") or None)
    fifo = os.path.join(d, "in")
    os.mkfifo(fifo, 0o600)
    parent = os.getppid()
    try:
        sys.stdout.write(fifo + "\n")
        sys.stdout.flush()
        fd = os.open(fifo, os.O_RDWR)  # never blocks, never sees end of input: see below
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(1, 0)  # our stdout: POLLERR once the reader closed it (pclose, a collected handle)
        buf = b""
        while True:
            events = dict(poller.poll(1000))
            if events.get(1) or os.getppid() != parent:
                return 0
            if fd not in events:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return 0
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.decode("utf-8", "replace")
                if line == "quit":
                    return 0
                sys.stdout.write(control(line) + "\n")
                sys.stdout.flush()
    except BrokenPipeError:
        return 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("dir")
    s.add_argument("names", nargs="*")
    s.add_argument("--lifetime", type=float, default=1800)
    t = sub.add_parser("stop")
    t.add_argument("dir")
    sub.add_parser("relay")
    a = ap.parse_args()
    if a.cmd == "start":
        bad = [n for n in a.names if n not in NAMES]
        if bad:
            ap.error("unknown fake %s (known: %s)" % (", ".join(bad), ", ".join(NAMES)))
        return start(a.dir, a.names or list(NAMES), a.lifetime)
    if a.cmd == "stop":
        return stop(a.dir)
    return relay()


if __name__ == "__main__":
    sys.exit(main())
