#!/usr/bin/env python3
"""A local fake of Gigya's REST endpoint, for tests and the demo.

It verifies every request with its own code (Python's hmac/base64/urllib,
independent of the C core), answers in Gigya's response model, and records
what it received. It listens on 127.0.0.1 only, over HTTP and HTTPS, and
stops by itself after --lifetime seconds.

  fake_gigya.py --config conf.json --ready FILE [--cert C --key K] [--lifetime 300]

conf.json:
  {"partners": {"<apiKey>": "<base64 partner secret>"},
   "userKeys": {"<userKey>": {"secret": "<base64>", "publicKey": "<pem path>"}},
   "tokens":   {"<oauth token>": {"apiKey": "...", "UID": "..."}},
   "users":    {"<UID>": {"providers": ["facebook", "twitter"], ...}}}

Control endpoints (not Gigya's): GET /__requests, POST /__reset,
POST /__config (JSON: {"skew": seconds, "delay_ms": n}), POST /__shutdown.
The ready FILE receives one JSON line {"http": port, "https": port}.
"""
import argparse, base64, hashlib, hmac, json, os, ssl, subprocess, sys, tempfile
import threading, time, uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

STATE = {"requests": [], "nonces": set(), "skew": 0, "delay_ms": 0}
LOCK = threading.Lock()
CONF = {}
PROVIDERS = ["facebook", "twitter", "linkedin", "vkontakte", "renren", "sina", "yahoo"]
MESSAGES = {
    0: "OK", 400002: "Missing required parameter", 400006: "Invalid parameter value",
    400008: "Invalid authentication header", 400093: "Invalid ApiKey parameter",
    400106: "Not connected", 403002: "Request has expired", 403003: "Invalid request signature",
    403004: "Duplicate nonce", 403005: "Unauthorized user", 403006: "Secret Sent Over Http",
    403007: "Permission denied", 403024: "Provider limit reached", 403025: "Invalid token",
    403048: "API Rate Limit Exceeded", 405001: "Invalid API method", 500001: "General Server error",
}
ANONYMOUS = {"accounts.getJWTPublicKey", "accounts.getScreenSets"}
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 500: "Internal Server Error"}


def enc(s):
    return quote(s.encode("utf-8"), safe="-_.~")


def now():
    return time.time() + STATE["skew"]


def hmac_b64(secret_b64, msg):
    key = base64.b64decode(secret_b64, validate=True)
    return base64.b64encode(hmac.new(key, msg.encode("utf-8"), hashlib.sha1).digest()).decode()


def reply(code, details=None, **extra):
    status = 200 if code == 0 else code // 1000
    body = {"callId": uuid.uuid4().hex, "errorCode": code, "apiVersion": 2,
            "statusCode": status, "statusReason": REASONS.get(status, "Error"),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now()))}
    if code:
        body["errorMessage"] = MESSAGES.get(code, "Error")
        if details:
            body["errorDetails"] = details
    body.update(extra)
    return body


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_jwt(token, user_keys):
    """RS256 check with the openssl command line (stdlib has no RSA)."""
    try:
        h64, c64, s64 = token.split(".")
        header, claims = json.loads(b64url(h64)), json.loads(b64url(c64))
    except Exception as e:  # malformed token
        return None, "malformed JWT: %s" % e
    uk = user_keys.get(header.get("kid"))
    if header.get("alg") != "RS256" or not uk or not uk.get("publicKey"):
        return None, "unknown kid or alg"
    with tempfile.NamedTemporaryFile() as sig:
        sig.write(b64url(s64))
        sig.flush()
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", uk["publicKey"], "-signature", sig.name],
                           input=(h64 + "." + c64).encode(), capture_output=True)
    if p.returncode != 0:
        return None, "bad RS256 signature"
    if abs(now() - claims.get("iat", 0)) > 120:
        return None, "iat outside the window"
    return header["kid"], None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Gigya
    server_version = "fake-gigya"

    def log_message(self, *a):
        pass

    def date_time_string(self, timestamp=None):
        return formatdate(now(), usegmt=True)  # the (possibly skewed) server clock

    def send_json(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/__requests":
            with LOCK:
                return self.send_json(STATE["requests"])
        self.send_json(reply(405001, "only POST"), 200)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        path = urlsplit(self.path).path
        if path == "/__reset":
            with LOCK:
                STATE["requests"].clear()
                STATE["nonces"].clear()
                STATE["skew"] = 0
                STATE["delay_ms"] = 0
            return self.send_json({"ok": True})
        if path == "/__config":
            with LOCK:
                STATE.update(json.loads(raw or "{}"))
            return self.send_json({"ok": True})
        if path == "/__shutdown":
            self.send_json({"ok": True})
            threading.Thread(target=self.server.shutdown_all, daemon=True).start()
            return
        https = isinstance(self.connection, ssl.SSLSocket)
        try:
            params = dict(parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw)))
        except ValueError:
            params = None
        rec = {"path": path, "scheme": "https" if https else "http", "body": raw,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "params": params, "client_port": self.client_address[1]}
        with LOCK:
            STATE["requests"].append(rec)
            delay = STATE["delay_ms"]
        if delay:
            time.sleep(delay / 1000.0)
        if params is None:
            return self.send_json(reply(400001, "body is not a form"))
        self.send_json(self.handle_call(path, params, https))

    # ---- authentication -------------------------------------------------
    def authenticate(self, path, p, https):
        """Returns (apiKey, error_reply)."""
        auth = self.headers.get("Authorization")
        if auth:
            if not auth.startswith("Bearer "):
                return None, reply(400008, "Authorization must be Bearer")
            kid, why = verify_jwt(auth[7:], CONF.get("userKeys", {}))
            if not kid:
                return None, reply(400008, why)
            if p.get("apiKey") not in CONF.get("partners", {}):
                return None, reply(400093, "unknown apiKey")
            return p["apiKey"], None
        if "oauth_token" in p:
            tok = CONF.get("tokens", {}).get(p["oauth_token"])
            if not https:
                return None, reply(400001, "oauth_token needs https")
            if not tok:
                return None, reply(403025, "unknown token")
            p.setdefault("UID", tok.get("UID"))
            return tok["apiKey"], None
        api_key = p.get("apiKey")
        if not api_key:
            return None, reply(400002, "Missing required parameter: apiKey")
        if api_key not in CONF.get("partners", {}):
            return None, reply(400093, "unknown apiKey")
        if path.lstrip("/") in ANONYMOUS and not ({"sig", "secret", "userKey"} & set(p)):
            return api_key, None
        if "userKey" in p:
            uk = CONF.get("userKeys", {}).get(p["userKey"])
            if not uk:
                return None, reply(403007, "unknown userKey")
            secret = uk["secret"]
        else:
            secret = CONF["partners"][api_key]
        if "secret" in p:
            if not https:
                return None, reply(403006, "secret must be sent over https")
            if not hmac.compare_digest(p["secret"], secret):
                return None, reply(403010, "wrong secret")
            return api_key, None
        for k in ("timestamp", "nonce", "sig"):
            if k not in p:
                return None, reply(400002, "Missing required parameter: " + k)
        try:
            ts = int(p["timestamp"])
        except ValueError:
            return None, reply(400006, "Invalid parameter value: timestamp")
        if abs(now() - ts) > 120:
            return None, reply(403002, "timestamp %d is outside the 120 s window" % ts)
        host = (self.headers.get("Host") or "").lower()
        scheme = "https" if https else "http"
        for default in (":443",) if https else (":80",):
            if host.endswith(default):
                host = host[: -len(default)]
        url = scheme + "://" + host + urlsplit(self.path).path
        qs = "&".join(k + "=" + enc(v) for k, v in sorted(p.items(), key=lambda kv: kv[0].encode())
                      if k != "sig")
        base = "POST&" + enc(url) + "&" + enc(qs)
        if not hmac.compare_digest(hmac_b64(secret, base), p["sig"]):
            return None, reply(403003, "expected base string: " + base)
        with LOCK:
            if p["nonce"] in STATE["nonces"]:
                return None, reply(403004, "nonce reused: " + p["nonce"])
            STATE["nonces"].add(p["nonce"])
        return api_key, None

    # ---- methods ---------------------------------------------------------
    def handle_call(self, path, p, https):
        method = path.lstrip("/")
        api_key, err = self.authenticate(path, p, https)
        if err:
            return err
        if p.get("format") != "json":
            return reply(400006, "Invalid parameter value: format")
        if method == "accounts.getJWTPublicKey":
            return reply(0, kty="RSA", alg="RS256", use="sig", kid="fake-kid", n="AQAB", e="AQAB")
        if method == "test.error":
            return reply(int(p.get("code", "500001")), p.get("details"))
        if method == "test.echo":
            return reply(0, params={k: v for k, v in p.items() if k not in ("sig", "secret")})
        if method.startswith("socialize.") and method not in ("socialize.getFeed",):
            uid = p.get("UID")
            if not uid:
                return reply(400002, "Missing required parameter: UID")
            user = CONF.get("users", {}).get(uid)
            if user is None:
                return reply(403005, "Unauthorized user: " + uid)
        if method == "socialize.publishUserAction":
            if not p.get("userAction"):
                return reply(400002, "Missing required parameter: userAction")
            try:
                ua = json.loads(p["userAction"])
            except ValueError:
                return reply(400006, "Invalid parameter value: userAction is not JSON")
            return self.fan_out(user, p, uid, ua)
        if method == "socialize.setStatus":
            if not p.get("status"):
                return reply(400002, "Missing required parameter: status")
            return self.fan_out(user, p, uid, {"title": p["status"]})
        if method == "socialize.sendNotification":
            for k in ("recipients", "body"):
                if not p.get(k):
                    return reply(400002, "Missing required parameter: " + k)
            return reply(0)
        if method == "socialize.facebookGraphOperation":
            if "facebook" not in user.get("providers", []):
                return reply(400106, "Not connected to facebook")
            return reply(0, graphResponse={"id": "fb_" + uuid.uuid4().hex[:8], "path": p.get("graphPath"),
                                           "method": p.get("method", "GET")})
        if method == "socialize.getUserInfo":
            ts = str(int(now()))
            secret = CONF["partners"][api_key]
            return reply(0, UID=uid, UIDSignature=hmac_b64(secret, ts + "_" + uid), signatureTimestamp=ts,
                         nickname=user.get("nickname", uid), isConnected=True,
                         providers=",".join(user.get("providers", [])))
        if method.startswith("socialize.") or method.startswith("accounts."):
            return reply(0, method=method)
        return reply(405001, "Invalid API method: " + method)

    def fan_out(self, user, p, uid, ua):
        connected = user.get("providers", [])
        targets = [x for x in connected]
        if p.get("enabledProviders"):
            want = p["enabledProviders"].split(",")
            targets = [x for x in connected if x in want]
        if p.get("disabledProviders"):
            targets = [x for x in targets if x not in p["disabledProviders"].split(",")]
        post_ids, codes = {}, []
        failing = user.get("failing", {})
        for prov in targets:
            if prov in failing:
                code = failing[prov]
                codes.append({"provider": prov, "errorCode": code, "errorMessage": MESSAGES.get(code, "Error"),
                              "errorDetails": "fake failure for " + prov})
            else:
                post_ids[prov] = "%s_%s" % (prov, uuid.uuid4().hex[:12])
                codes.append({"provider": prov, "errorCode": 0, "errorMessage": "OK"})
        if post_ids:
            return reply(0, providerPostIDs=post_ids, providerErrorCodes=codes)
        if not targets:
            return reply(400106, "Not connected to any enabled provider")
        return reply(codes[0]["errorCode"], codes[0].get("errorDetails"), providerErrorCodes=codes)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # many concurrent clients in soak and fan-out tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()
    CONF.update(json.load(open(a.config)))
    servers = [Server(("127.0.0.1", 0), Handler)]
    if a.cert:
        s = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
        servers.append(s)

    def shutdown_all():
        for s in servers:
            s.shutdown()

    for s in servers:
        s.shutdown_all = shutdown_all
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    ports = {"http": servers[0].server_address[1], "pid": os.getpid()}
    if len(servers) > 1:
        ports["https"] = servers[1].server_address[1]
    tmp = a.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(ports) + "\n")
    os.rename(tmp, a.ready)
    deadline = time.time() + a.lifetime
    while any(t.is_alive() for t in threads) and time.time() < deadline:
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
