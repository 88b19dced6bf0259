#!/usr/bin/env python3
"""A local sandbox of the social networks, for tests and `make demo`.

One HTTP server per network, all on 127.0.0.1, each answering with that
network's documented wire format (shared/reference/providers.md): success
replies, and error replies chosen by the credential the request carries:

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

It checks what a network checks (OAuth 1.0a signatures, appsecret_proof,
LinkedIn version headers, Weibo's safe domain and rip, Bluesky facets' byte
offsets, Mastodon's length with URL = 23, the Idempotency-Key and VK guid
de-duplication, LinkedIn's little text and article title, Weibo's #topic#
refusal) and records every request.

  sandbox.py --ready FILE [--lifetime 300] [--conf JSON]

The ready FILE receives {"twitter": port, ..., "control": port, "pid": pid}.
Control port: GET /__requests, POST /__reset, POST /__config
({"delay_ms": {"twitter": 50}, "expire_bluesky": true}), POST /__shutdown.
"""
import argparse, base64, hashlib, hmac, json, os, re, sys, threading, time, uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

LOCK = threading.Lock()
STATE = {"requests": [], "delay_ms": {}, "counter": 1000, "idem": {}, "guids": {}, "sessions": {},
         "session_count": 0}
CONF = {
    "twitter": {"consumerKey": "tw-consumer-key", "consumerSecret": "tw-consumer-secret"},
    "facebook": {"appSecret": "fb-app-secret"},
    "sina": {"safeDomain": "game.example"},
    "mastodon": {"max_characters": 500, "characters_reserved_per_url": 23},
    "bluesky": {"password": "app-pass-1234"},
    "telegram": {"botToken": "123456:sandbox-bot-token"},
}
NETWORKS = ["twitter", "facebook", "linkedin", "vkontakte", "sina", "mastodon", "bluesky", "telegram"]


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

    def log_message(self, *a):
        pass

    def respond(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else (json.dumps(body, ensure_ascii=False).encode() if body is not None else b"")
        self.send_response(status)
        if body is not None:
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
               "client_port": self.client_address[1], "t": time.time()}
        with LOCK:
            if STATE.get("record", True):
                STATE["requests"].append(rec)
            delay = STATE["delay_ms"].get(self.network, 0)
        if delay:
            time.sleep(delay / 1000.0)
        try:
            status, body, headers = self.route(method, u.path, dict(parse_qsl(u.query, keep_blank_values=True)), raw)
        except Reply as r:
            status, body, headers = r.status, r.body, r.headers
        self.respond(status, body, headers)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

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


# ---- X ------------------------------------------------------------------------
def problem(status, title, detail, type_="about:blank", headers=None):
    return Reply(status, {"title": title, "detail": detail, "type": type_, "status": status}, headers)


class Twitter(Base):
    network = "twitter"

    def oauth_token(self, method, path):
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            return auth[7:]
        if not auth.startswith("OAuth "):
            raise problem(401, "Unauthorized", "Unauthorized")
        params = {}
        for part in auth[6:].split(", "):
            k, _, v = part.partition("=")
            params[k] = v.strip('"')
        from urllib.parse import unquote
        params = {k: unquote(v) for k, v in params.items()}
        sig = params.pop("oauth_signature", "")
        token = params.get("oauth_token", "")
        if params.get("oauth_consumer_key") != CONF["twitter"]["consumerKey"]:
            raise problem(401, "Unauthorized", "Unauthorized")
        # RFC 5849 signature, independent of the C core; the token secret is
        # "<token>-secret" in this sandbox
        url = "http://" + self.headers.get("Host") + path
        qs = "&".join(k + "=" + v for k, v in sorted((enc(k), enc(v)) for k, v in params.items()))
        base = method + "&" + enc(url) + "&" + enc(qs)
        key = enc(CONF["twitter"]["consumerSecret"]) + "&" + enc(token + "-secret")
        want = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(want, sig):
            raise problem(401, "Unauthorized", "Could not authenticate you: bad oauth_signature")
        return token

    def scenario(self, token):
        if "expired" in token:
            raise problem(401, "Unauthorized", "Unauthorized")
        if "noperm" in token:
            raise Reply(403, {"title": "Client Forbidden", "detail": "This request must be made using an approved developer account that is enrolled in the requested endpoint.",
                              "type": "https://api.x.com/2/problems/client-forbidden", "reason": "client-not-enrolled", "status": 403})
        if "dup" in token:
            raise problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        if "capped" in token:
            raise problem(429, "UsageCapExceeded", "Usage cap exceeded: Monthly product cap",
                          "https://api.x.com/2/problems/usage-capped")
        if "ratelimit" in token:
            reset = int(time.time()) + 900
            raise problem(429, "Too Many Requests", "Too Many Requests", headers={
                "x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
        if "daily" in token:
            now = int(time.time())
            raise problem(429, "Too Many Requests", "Too Many Requests", headers={
                "x-rate-limit-limit": "100", "x-rate-limit-remaining": "99", "x-rate-limit-reset": str(now + 900),
                "x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": str(now + 80000)})
        if "credits" in token:
            raise problem(402, "CreditsDepleted", "Your enrolled account [1] does not have any credits to fulfill this request.",
                          "https://api.twitter.com/2/problems/credits")
        if "boom" in token:
            raise Reply(503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503})

    def route(self, method, path, q, raw):
        token = self.oauth_token(method, path)
        self.scenario(token)
        body = self.json_body(raw)
        if path == "/2/tweets" and method == "POST":
            if not body.get("text"):
                raise problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
            return 201, {"data": {"id": str(1346889436626259968 + next_id()), "text": body["text"],
                                  "edit_history_tweet_ids": []}}, None
        if path.startswith("/2/dm_conversations/with/") and path.endswith("/messages"):
            return 201, {"data": {"dm_conversation_id": "1-%d" % next_id(), "dm_event_id": str(next_id())}}, None
        raise Reply(404, {"title": "Not Found Error", "status": 404, "type": "about:blank", "detail": path})


# ---- Facebook -------------------------------------------------------------------
def fb_error(status, code, message, subcode=None, headers=None):
    e = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A" + uuid.uuid4().hex[:10]}
    if subcode:
        e["error_subcode"] = subcode
    return Reply(status, {"error": e}, headers)


class Facebook(Base):
    network = "facebook"

    def route(self, method, path, q, raw):
        p = dict(q)
        if method == "POST":
            p.update(self.form(raw))
        token = p.get("access_token")
        if not token:
            raise fb_error(400, 2500, "An active access token must be used to query information about the current user.")
        want = hmac.new(CONF["facebook"]["appSecret"].encode(), token.encode(), hashlib.sha256).hexdigest()
        if p.get("appsecret_proof") != want:
            raise fb_error(400, 100, "Invalid appsecret_proof provided in the API argument")
        if "leaky" in token:  # Facebook really echoes what it cannot parse
            raise fb_error(400, 190, "Invalid OAuth access token - Cannot parse access token: " + token)
        if "expired" in token:
            raise fb_error(400, 190, "Error validating access token: Session has expired.", 463)
        if "noperm" in token:
            raise fb_error(403, 200, "(#200) Requires pages_manage_posts permission to manage the object")
        if "dup" in token:
            raise fb_error(400, 506, "(#506) Duplicate status message")
        if "policy" in token:
            raise fb_error(400, 368, "It looks like you were misusing this feature by going too fast.")
        if "ratelimit" in token:
            raise fb_error(400, 32, "Page request limit reached", headers={"X-Business-Use-Case-Usage": json.dumps(
                {"1234": [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30,
                           "estimated_time_to_regain_access": 12}]})})
        if "boom" in token:
            raise Reply(500, {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}})
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[2] == "feed" and method == "POST":
            if not p.get("message") and not p.get("link"):
                raise fb_error(400, 100, "(#100) Missing message or attachment")
            return 200, {"id": "%s_%d" % (parts[1], next_id())}, None
        return 200, {"id": str(next_id()), "path": "/" + "/".join(parts[1:]), "method": method,
                     "params": {k: v for k, v in p.items() if k not in ("access_token", "appsecret_proof")}}, None


# ---- LinkedIn -------------------------------------------------------------------
LITTLE_RESERVED = "\\|{}@[]()<>#*_~"


def little_text_error(text):
    """Where LinkedIn would cut a little-text commentary: the first reserved
    character neither escaped nor a hashtag ('#' then a word), else None."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in LITTLE_RESERVED:
            i += 2
            continue
        if c == "#" and i + 1 < len(text) and (text[i + 1].isalnum() or ord(text[i + 1]) > 127):
            i += 1
            continue
        if c in LITTLE_RESERVED:
            return "unescaped %r at %d" % (c, i)
        i += 1
    return None


class LinkedIn(Base):
    network = "linkedin"

    def route(self, method, path, q, raw):
        if path != "/rest/posts" or method != "POST":
            raise Reply(404, {"status": 404, "message": "Not found"})
        if self.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            raise Reply(400, {"status": 400, "message": "X-Restli-Protocol-Version 2.0.0 is required"})
        ver = self.headers.get("LinkedIn-Version") or ""
        if not (len(ver) == 6 and ver.isdigit()):
            raise Reply(400, {"status": 400, "code": "VERSION_MISSING", "message": "A version must be present"})
        if ver < "202501":
            raise Reply(426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version %s is not active" % ver})
        token = self.bearer() or ""
        if "expired" in token:
            raise Reply(401, {"status": 401, "serviceErrorCode": 65600, "code": "EXPIRED_ACCESS_TOKEN",
                              "message": "The token used in the request has expired"})
        if "noperm" in token:
            raise Reply(403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                              "message": "Not enough permissions to access: POST /rest/posts"})
        if "dup" in token:
            raise Reply(422, {"errorDetailType": "com.linkedin.common.error.BadRequest",
                              "message": "ERROR :: /commentary :: Content is a duplicate of urn:li:share:7141138937766391808",
                              "errorDetails": {"inputErrors": [{"description": "Duplicate post is detected", "code": "DUPLICATE_POST"}]},
                              "status": 422})
        if "ratelimit" in token:
            raise Reply(429, {"status": 429, "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."})
        if "boom" in token:
            raise Reply(500, {"status": 500, "message": "Internal Server Error"})
        body = self.json_body(raw)
        for k in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
            if k not in body:
                raise Reply(422, {"status": 422, "message": "missing field /%s" % k})
        # LinkedIn answers 201 and silently cuts the post; the sandbox refuses instead
        bad = little_text_error(body["commentary"])
        if bad:
            raise Reply(422, {"status": 422, "message": "sandbox: /commentary would be truncated: " + bad})
        article = (body.get("content") or {}).get("article")
        if article is not None and not article.get("title"):
            raise Reply(422, {"status": 422, "message": "ERROR :: /content/article/title :: field is required but not found"})
        return 201, None, {"x-restli-id": "urn:li:share:%d" % (7141138937766391808 + next_id())}


# ---- VK -------------------------------------------------------------------------
def vk_error(code, msg, params):
    return Reply(200, {"error": {"error_code": code, "error_msg": msg,
                                 "request_params": [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]}})


class VK(Base):
    network = "vkontakte"

    def route(self, method, path, q, raw):
        p = dict(q)
        p.update(self.form(raw))
        if path != "/method/wall.post":
            raise vk_error(3, "Unknown method passed", p)
        if not p.get("v"):
            raise vk_error(8, "Invalid request: v (version) is required", p)
        token = p.get("access_token", "")
        if not token or "expired" in token:
            raise vk_error(5, "User authorization failed: invalid access_token (4).", p)
        if "noperm" in token:
            raise vk_error(15, "Access denied: no access to call this method", p)
        if "ratelimit" in token:
            raise vk_error(6, "Too many requests per second", p)
        if "policy" in token:
            raise vk_error(14, "Captcha needed", p)
        if "boom" in token:
            raise Reply(502, b"<html>502 Bad Gateway</html>")
        if not p.get("message") and not p.get("attachments"):
            raise vk_error(100, "One of the parameters specified was missing or invalid: message is empty", p)
        key = (p.get("owner_id"), p.get("guid"))
        with LOCK:
            if p.get("guid") and key in STATE["guids"]:
                return 200, {"response": {"post_id": STATE["guids"][key]}}, None
        pid = next_id()
        with LOCK:
            STATE["guids"][key] = pid
        return 200, {"response": {"post_id": pid}}, None


# ---- Weibo ----------------------------------------------------------------------
def wb_error(code, msg):
    return Reply(400 if code < 21000 else 403, {"error": msg, "error_code": code, "request": "/2/statuses/share.json"})


class Weibo(Base):
    network = "sina"

    def route(self, method, path, q, raw):
        p = self.form(raw)
        token = p.get("access_token", "")
        if "expired" in token:
            raise wb_error(21327, "expired_token")
        if "ratelimit" in token:
            raise wb_error(10023, "User requests out of rate limit!")
        if "dup" in token:
            raise wb_error(20019, "repeat content!")
        if not p.get("rip"):
            raise wb_error(10016, "miss required parameter (rip) , see doc for more info.")
        status = p.get("status", "")
        if ("://" + CONF["sina"]["safeDomain"]) not in status and ("." + CONF["sina"]["safeDomain"]) not in status:
            raise wb_error(10017, "parameter (status)'s value invalid,expect (must contain a safe domain url)")
        # share.json refuses #topic# tags; a '#' inside a URL is a fragment
        if re.search(r"#[^#\r\n]+#", re.sub(r"https?://\S+", " ", status)):
            raise wb_error(10017, "parameter (status)'s value invalid,expect (no #topic#)")
        if "delayed" in token:
            raise wb_error(20032, "Update success, while server slow now, please wait 1-2 minutes")
        i = next_id()
        return 200, {"created_at": formatdate(usegmt=True), "id": 4000000000000000 + i, "idstr": str(4000000000000000 + i),
                     "mid": str(i), "text": status, "user": {"id": 1}}, None


# ---- Mastodon -------------------------------------------------------------------
def weighted(text, url_weight):
    import re
    n = 0
    for part in re.split(r"(https?://\S+)", text):
        n += url_weight if part.startswith(("http://", "https://")) else len(part)
    return n


class Mastodon(Base):
    network = "mastodon"

    def route(self, method, path, q, raw):
        if path == "/api/v2/instance" and method == "GET":
            c = CONF["mastodon"]
            return 200, {"domain": "sandbox.example", "configuration": {"statuses": {
                "max_characters": c["max_characters"], "max_media_attachments": 4,
                "characters_reserved_per_url": c["characters_reserved_per_url"]}}}, None
        if path != "/api/v1/statuses" or method != "POST":
            raise Reply(404, {"error": "Record not found"})
        token = self.bearer() or ""
        if not token or "expired" in token:
            raise Reply(401, {"error": "The access token is invalid"})
        if "noperm" in token:
            raise Reply(403, {"error": "This action is outside the authorized scopes"})
        if "ratelimit" in token:
            reset = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 300))
            raise Reply(429, {"error": "Too many requests"}, {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                                                              "X-RateLimit-Reset": reset})
        if "boom" in token:
            raise Reply(503, {"error": "Service Unavailable"})
        body = self.json_body(raw)
        text = body.get("status", "")
        if weighted(text, CONF["mastodon"]["characters_reserved_per_url"]) > CONF["mastodon"]["max_characters"]:
            raise Reply(422, {"error": "Validation failed: Text character limit of %d exceeded" % CONF["mastodon"]["max_characters"]})
        key = self.headers.get("Idempotency-Key")
        with LOCK:
            if key and (token, key) in STATE["idem"]:
                return 200, STATE["idem"][(token, key)], None
        sid = str(110000000000000000 + next_id())
        status = {"id": sid, "url": "https://sandbox.example/@user/" + sid, "content": "<p>%s</p>" % text,
                  "visibility": body.get("visibility", "public")}
        with LOCK:
            if key:
                STATE["idem"][(token, key)] = status
        return 200, status, None


# ---- Bluesky --------------------------------------------------------------------
class Bluesky(Base):
    network = "bluesky"

    def route(self, method, path, q, raw):
        body = self.json_body(raw) if raw else {}
        if path == "/xrpc/com.atproto.server.createSession":
            ident = body.get("identifier", "")
            if "ratelimit" in ident:
                raise Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                            {"RateLimit-Limit": "30", "RateLimit-Remaining": "0",
                             "RateLimit-Reset": str(int(time.time()) + 300), "RateLimit-Policy": "30;w=300"})
            if body.get("password") != CONF["bluesky"]["password"]:
                raise Reply(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
            jwt = "acc-" + uuid.uuid4().hex
            did = "did:plc:" + hashlib.sha1(ident.encode()).hexdigest()[:24]
            with LOCK:
                STATE["sessions"][jwt] = did
                STATE["session_count"] += 1
            return 200, {"accessJwt": jwt, "refreshJwt": "ref-" + uuid.uuid4().hex, "did": did, "handle": ident}, None
        if path == "/xrpc/com.atproto.repo.createRecord":
            tok = self.bearer() or ""
            with LOCK:
                did = STATE["sessions"].get(tok)
                expired = STATE.get("expire_bluesky")
            if not did:
                raise Reply(400 if tok else 401, {"error": "InvalidToken" if tok else "AuthenticationRequired",
                                                  "message": "Bad token"})
            if expired:
                with LOCK:
                    STATE["sessions"].pop(tok, None)
                    STATE["expire_bluesky"] = False
                raise Reply(400, {"error": "ExpiredToken", "message": "Token has expired"})
            rec = body.get("record", {})
            text = rec.get("text", "")
            b = text.encode("utf-8")
            if len(b) > 3000:
                raise Reply(400, {"error": "InvalidRequest", "message": "Record/text must not be longer than 3000 bytes"})
            for f in rec.get("facets", []):
                i = f["index"]
                uri = f["features"][0].get("uri")
                if b[i["byteStart"]:i["byteEnd"]].decode("utf-8", "replace") != uri:
                    raise Reply(400, {"error": "InvalidRequest", "message": "facet byte range does not match its uri"})
            if body.get("repo") != did or body.get("collection") != "app.bsky.feed.post":
                raise Reply(400, {"error": "InvalidRequest", "message": "repo/collection mismatch"})
            rkey = "3k" + uuid.uuid4().hex[:11]
            return 200, {"uri": "at://%s/app.bsky.feed.post/%s" % (did, rkey), "cid": "bafyrei" + uuid.uuid4().hex}, None
        raise Reply(404, {"error": "MethodNotImplemented", "message": path})


# ---- Telegram -------------------------------------------------------------------
class Telegram(Base):
    network = "telegram"

    def route(self, method, path, q, raw):
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            raise Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if parts[0][3:] != CONF["telegram"]["botToken"]:
            raise Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        body = self.json_body(raw)
        chat = str(body.get("chat_id", ""))
        if "blocked" in chat:
            raise Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
        if "ratelimit" in chat:
            after = int(chat.split("ratelimit")[1] or 7)  # "ratelimit1": retry after 1 s
            raise Reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after %d" % after,
                              "parameters": {"retry_after": after}})
        if "upgraded" in chat:
            raise Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat",
                              "parameters": {"migrate_to_chat_id": -1009876543210}})
        if not body.get("text"):
            raise Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})
        if len(body["text"]) > 4096:
            raise Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"})
        cid = int(chat) if chat.lstrip("-").isdigit() else chat
        return 200, {"ok": True, "result": {"message_id": next_id(), "chat": {"id": cid}, "text": body["text"],
                                            "date": int(time.time())}}, None


class Control(Base):
    network = "control"

    def do_GET(self):
        if self.path.startswith("/__requests"):
            with LOCK:
                return self.respond(200, STATE["requests"])
        with LOCK:
            return self.respond(200, {"session_count": STATE["session_count"]})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        if self.path == "/__reset":
            with LOCK:
                STATE.update({"requests": [], "delay_ms": {}, "idem": {}, "guids": {}, "sessions": {},
                              "session_count": 0, "expire_bluesky": False})
        elif self.path == "/__config":
            with LOCK:
                STATE.update(json.loads(raw or b"{}"))
        elif self.path == "/__shutdown":
            self.respond(200, {"ok": True})
            threading.Thread(target=self.server.stop_all, daemon=True).start()
            return
        self.respond(200, {"ok": True})


HANDLERS = {"twitter": Twitter, "facebook": Facebook, "linkedin": LinkedIn, "vkontakte": VK, "sina": Weibo,
            "mastodon": Mastodon, "bluesky": Bluesky, "telegram": Telegram, "control": Control}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # many concurrent clients in soak and fan-out tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()
    servers = {name: Server(("127.0.0.1", 0), h) for name, h in HANDLERS.items()}

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
    with open(a.ready + ".tmp", "w") as f:
        f.write(json.dumps(ports) + "\n")
    os.rename(a.ready + ".tmp", a.ready)
    deadline = time.time() + a.lifetime
    while any(t.is_alive() for t in threads) and time.time() < deadline:
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
