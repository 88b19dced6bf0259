#!/usr/bin/env python3
"""A local sandbox of the social networks, for tests and `make demo`.

One HTTP server per network, all on 127.0.0.1, each answering with that
network's documented wire format (shared/reference/providers.md): success
replies, and error replies chosen by the credential the request carries.
Each network is one module, spec/fakes/networks/<network>.py (NETWORK,
Handler, CONF, optional STATE_DEFAULTS and DEMO), found by file name:
adding a file adds a network. The scenarios:

  token "expired"   -> the network's expired/invalid-token error
  token "noperm"    -> permission missing
  token "dup"       -> duplicate content
  token "ratelimit" -> rate limited, with the network's own reset signal
  token "capped"    -> X usage cap (quota)
  token "policy"    -> Facebook 368 / VK 14 (captcha)
  token "boom"      -> HTTP 5xx
  token "delayed"   -> Weibo 20032 (published, sync delayed)
  token "daily"     -> X 429 with the user's 24-hour cap spent (x-user-limit-24hour-*)
  token "credits"   -> X 402 CreditsDepleted
  chat "upgraded"   -> Telegram 400 with parameters.migrate_to_chat_id
  chat "leak"       -> Telegram 403 whose description holds the bot token
  token "echo"      -> Mastodon answers the access token as the status id
  identifier "uploadfail" -> Bluesky 502 on uploadBlob
  token "uploadfail" / "uploadexpired" / "uploadexpiredalways" / "uploadprivate"
                    -> VK's upload server: 500 / the first upload URL expired /
                       every one expired / an upload URL on 169.254.169.254
  token "savefail"  -> VK photos.saveWallPhoto error 10
  token "wallfail"  -> VK wall.post error 214 (after the uploads)

It checks what a network checks (OAuth 1.0a signatures, appsecret_proof,
LinkedIn version headers, Weibo's safe domain and rip, Bluesky facets' byte
offsets, Mastodon's length with URL = 23, the Idempotency-Key and VK guid
de-duplication) and records every request.

  sandbox.py --ready FILE [--lifetime 300] [--conf JSON]

The ready FILE receives {"twitter": port, ..., "control": port, "pid": pid,
"demo": {network: {"provider": {...}, "connection": {...}}}} (the demo
configuration a network module offers, its base URL filled in), "oauth":
{network: {"clientId", "clientSecret"}} (the client its authorization server knows).
The "media" port serves the files mediaItems' src point at (media_cdn.py).
Control port: GET /__requests, POST /__reset, POST /__config
({"delay_ms": {"twitter": 50}, "expire_bluesky": true, "clock": 1700000000, "chaos": {...} (mastodon.py),
"barrier": 4}), POST /__shutdown. "clock" freezes the time the networks read
(rate-limit resets); "barrier": N holds every reply until N requests arrived
(a client that sends them one after another never gets past the first).
"""

import argparse, copy, importlib, json, os, sys, threading, time
from http.server import ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sandbox_core import LOCK, RESET, STATE, Base  # noqa: E402
import media_cdn  # noqa: E402


def load_networks():
    """Every spec/fakes/networks/<network>.py, by file name (sorted)."""
    mods = {}
    for f in sorted(os.listdir(os.path.join(HERE, "networks"))):
        if not f.endswith(".py") or f.startswith("_"):
            continue
        m = importlib.import_module("networks." + f[:-3])
        if getattr(m, "NETWORK", None) != f[:-3] or not hasattr(m, "Handler"):
            raise SystemExit("sandbox: %s must define NETWORK = %r and Handler" % (f, f[:-3]))
        m.Handler.network = m.NETWORK
        mods[m.NETWORK] = m
    return mods


MODULES = load_networks()


def fresh_defaults():
    d = {}
    for m in MODULES.values():
        d.update(copy.deepcopy(getattr(m, "STATE_DEFAULTS", {})))
    return d


def demo(ports):
    """The demo configuration each network module offers ({base}: its URL)."""
    out = {}
    for name, m in MODULES.items():
        d = getattr(m, "DEMO", None)
        if d:
            base = "http://127.0.0.1:%d" % ports[name]
            out[name] = json.loads(json.dumps(d).replace("{base}", base))
    return out


def oauth_clients():
    """The OAuth client each network's authorization server knows (its module's OAUTH,
    spec/fakes/oauth_server.py): {network: {"clientId", "clientSecret"}}, for the connect demos."""
    out = {}
    for name, m in MODULES.items():
        o = getattr(m, "OAUTH", None)
        if isinstance(o, dict) and o.get("client_id"):
            out[name] = {"clientId": o["client_id"], "clientSecret": o.get("client_secret", "")}
    return out


class Control(Base):
    network = "control"

    def do_GET(self):
        if self.path.startswith("/__requests"):
            with LOCK:
                return self.respond(200, STATE["requests"])
        if self.path.startswith("/__oauth"):  # the authorization servers' counters (oauth_server.py)
            with LOCK:
                return self.respond(200, {k[6:]: {c: v for c, v in st.items() if isinstance(v, int)}
                                          for k, st in STATE.items()
                                          if k.startswith("oauth_") and isinstance(st, dict) and "codes" in st})
        with LOCK:
            return self.respond(200, {"session_count": STATE["session_count"],
                                      "bsky_refresh_count": STATE.get("bsky_refresh_count", 0),
                                      "bsky_refresh_reused": STATE.get("bsky_refresh_reused", 0)})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        if self.path == "/__reset":
            with LOCK:
                STATE.update({"requests": [], "delay_ms": {}})
                STATE.update(RESET)
                STATE.update(fresh_defaults())
        elif self.path == "/__config":
            with LOCK:
                STATE.update(json.loads(raw or b"{}"))
        elif self.path == "/__shutdown":
            self.respond(200, {"ok": True})
            threading.Thread(target=self.server.stop_all, daemon=True).start()
            return
        self.respond(200, {"ok": True})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # many concurrent clients in soak and fan-out tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()
    handlers = dict((name, m.Handler) for name, m in MODULES.items())
    handlers["control"] = Control
    handlers["media"] = media_cdn.Handler  # where mediaItems' src point (media_cdn.py)
    STATE.update(fresh_defaults())
    servers = {name: Server(("127.0.0.1", 0), h) for name, h in handlers.items()}

    def stop_all():
        for s in servers.values():
            s.shutdown()

    for s in servers.values():
        s.stop_all = stop_all
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers.values()]
    for t in threads:
        t.start()
    ports = {name: s.server_address[1] for name, s in servers.items()}
    ports["pid"] = os.getpid()
    ports["demo"] = demo(ports)
    ports["oauth"] = oauth_clients()
    with open(a.ready + ".tmp", "w") as f:
        f.write(json.dumps(ports) + "\n")
    os.rename(a.ready + ".tmp", a.ready)
    deadline = time.time() + a.lifetime
    while any(t.is_alive() for t in threads) and time.time() < deadline:
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
