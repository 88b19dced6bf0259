"""The sandbox's server core: the shared state, the request recorder and the
base handler every network module (spec/fakes/networks/<network>.py) builds
on. The runner is sandbox.py."""
import hashlib, json, threading, time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, quote, urlsplit

LOCK = threading.Lock()
ARRIVED = threading.Condition(LOCK)  # the barrier: notified at each arrival
# clock: a frozen Unix time the networks read instead of the real one (None: real).
# barrier: hold each reply until that many requests arrived since the last
# reset (0: none); a reply held longer than barrier_s is sent anyway, and its
# request is recorded with "barrier": "not met".
STATE = {"requests": [], "delay_ms": {}, "counter": 1000, "clock": None, "barrier": 0, "barrier_s": 20, "arrived": 0}
RESET = {"clock": None, "barrier": 0, "barrier_s": 20, "arrived": 0, "chaos": {}}


def now():
    """The sandbox's clock: real time, or the frozen one POST /__config {"clock": T} set."""
    c = STATE.get("clock")
    return c if c is not None else time.time()


def enc(s):
    return quote(s.encode("utf-8"), safe="-_.~")


def next_id():
    with LOCK:
        STATE["counter"] += 1
        return STATE["counter"]


class Reply(Exception):
    def __init__(self, status, body, headers=None):
        self.status, self.body, self.headers = status, body, headers or {}


class Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    network = "?"
    # TCP_NODELAY: a reply is written as its header block, then its body; with
    # Nagle's algorithm the body waited for the client's delayed ACK (about
    # 40 ms a request on a kept-alive connection)
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def respond(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else (json.dumps(body, ensure_ascii=False).encode() if body is not None else b"")
        self.send_response(status)
        if body is not None and not any(k.lower() == "content-type" for k in (headers or {})):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        u = urlsplit(self.path)
        rec = {"network": self.network, "method": method, "path": u.path, "query": u.query,
               "headers": {k.lower(): v for k, v in self.headers.items()}, "body": raw.decode("utf-8", "replace"),
               "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
               "client_port": self.client_address[1], "t": time.time()}
        with LOCK:
            # requests being handled at once, this one included: a client's concurrency, read
            # from the requests it sent, not from a clock
            STATE["inflight"] = STATE.get("inflight", 0) + 1
            rec["inflight"] = STATE["inflight"]
            if STATE.get("record", True):
                STATE["requests"].append(rec)
            delay = STATE["delay_ms"].get(self.network, 0)
            barrier = STATE["barrier"]
            if barrier:
                STATE["arrived"] += 1
                ARRIVED.notify_all()
                met = ARRIVED.wait_for(lambda: STATE["arrived"] >= barrier, timeout=STATE["barrier_s"])
                rec["barrier"] = "met" if met else "not met"
        try:
            if delay:
                time.sleep(delay / 1000.0)
            try:
                status, body, headers = self.route(method, u.path, dict(parse_qsl(u.query, keep_blank_values=True)), raw)
            except Reply as r:
                status, body, headers = r.status, r.body, r.headers
            with LOCK:
                rec["status"] = status  # what it answered (a client killed mid-request never reads it)
            self.respond(status, body, headers)
        finally:
            with LOCK:
                STATE["inflight"] -= 1

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PUT(self):
        self.handle_any("PUT")

    def note(self, **kv):
        """Adds what the fake parsed to this request's /__requests entry."""
        port = self.client_address[1]
        with LOCK:
            for rec in reversed(STATE["requests"]):
                if rec.get("network") == self.network and rec.get("client_port") == port:
                    rec.update(kv)
                    return

    def form(self, raw):
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))

    def json_body(self, raw):
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            raise Reply(400, {"error": "body is not JSON"})

    def bearer(self):
        a = self.headers.get("Authorization") or ""
        return a[7:] if a.startswith("Bearer ") else None
