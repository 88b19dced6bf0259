"""X: POST /2/tweets and DMs; OAuth 1.0a signatures checked (RFC 5849), or a bearer token.

Media (docs.x.com/x-api/media): POST /2/media/upload (one-shot, multipart),
POST /2/media/upload/initialize -> /{id}/append -> /{id}/finalize, STATUS
polls (GET /2/media/upload?command=STATUS&media_id=), POST /2/media/metadata.
Multipart bodies are parsed here byte for byte; appended segments must be
contiguous and add up to total_bytes; a tweet may only carry media that are
uploaded and processed. Token scenarios: "mediafail" (processing fails),
"mediaslow" (processing never ends), "media5xx" (a media's first append
answers 503). A request that uploads records
"media_sha256"/"media_size" (the assembled file) in its /__requests entry;
a tweet records "media" (the media ids with their sha256 and alt text).
OAuth 1.0a 3-legged: POST /__config {"oauth_scenario": {"twitter1": S}}, S =
"deny" (the authorize page answers denied=), "html" or "500" (the access
token call answers a 502 HTML page or a 500).
Read-back: every tweet created is kept (STATE "x_tweets", with its token);
GET /2/users/:id/tweets lists the token's own, newest first, as X shows
them (links made t.co links, & < > as HTML entities; created_at only with
tweet.fields=created_at; no "data" when there is none). POST /__config
{"x_drop": "after"} makes the next create store its tweet and close the
connection in the middle of its reply; "before": the same without storing it;
{"x_timeline_5xx": N}: the next N timeline reads answer 503."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import parse_qsl, quote, urlsplit

import media_kit
from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id, now as sandbox_now
import oauth_server

NETWORK = "twitter"
CONF = {"consumerKey": "tw-consumer-key", "consumerSecret": "tw-consumer-secret"}
STATE_DEFAULTS = {"x_tweets": [], "x_drop": None, "x_timeline_5xx": 0, "x_media": {}, "x_o1": {"req": {}, "issued": 0, "invalidated": []}}
STATE_DEFAULTS.update(oauth_server.defaults(NETWORK))
# OAuth 2.0 with PKCE (docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code):
# a confidential client (HTTP Basic), 2-hour tokens, single-use refresh
# tokens issued with offline.access (spec/fakes/oauth_server.py)
OAUTH = {"authorize": "/i/oauth2/authorize", "token": "/2/oauth2/token", "revoke": "/2/oauth2/revoke",
         "identity": "/2/users/me", "client_id": "tw-client-id", "client_secret": "tw-client-secret",
         "basic": True, "pkce": True, "rotating": True, "refresh_scope": "offline.access", "prefix": "x",
         "scopes": {"tweet.read", "tweet.write", "users.read", "offline.access", "media.write", "dm.write", "dm.read"},
         "user": "2244994945",
         "identity_reply": {"data": {"id": "2244994945", "name": "Sandbox X", "username": "sandbox_x"}},
         "unauthorized": {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}}
X_MAX_IMAGE = 5 * 1024 * 1024
X_MAX_GIF = 15 * 1024 * 1024
X_MAX_VIDEO = 512 * 1024 * 1024
X_MAX_CHUNK = 5 * 1024 * 1024
POLLS_TO_FINISH = 2  # STATUS polls before processing succeeds


class DropReply(Exception):
    """The connection closes without a reply (POST /__config {"x_drop": ...})."""


def as_shown(text):
    """A tweet's text as X shows it: links t.co links, & < > as entities."""
    text = re.sub(r"https?://\S+", lambda m: "https://t.co/" + hashlib.sha1(m.group(0).encode()).hexdigest()[:10], text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def problem(status, title, detail, type_="about:blank", headers=None):
    return Reply(status, {"title": title, "detail": detail, "type": type_, "status": status}, headers)


def bad_request(detail):
    return problem(400, "Invalid Request", detail)


def multipart(content_type, raw):
    """media_kit's strict multipart/form-data reader: {name: (bytes, filename, content_type)}."""
    try:
        parts = media_kit.parse_multipart(content_type, raw)
    except media_kit.FormError as e:
        raise bad_request("multipart: %s" % e)
    return {p["name"]: (p["data"], p["filename"], p["type"]) for p in parts}


def sniff(b):
    return media_kit.sniff(b, ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/quicktime"))


class Twitter(Base):
    network = "twitter"
    OAUTH = OAUTH

    def oauth_token(self, method, path, query=""):
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            oauth_server.check_bearer(self, auth[7:])  # one issued by the sandbox: live
            return auth[7:]
        return self.o1_check(method, path, query, self.o1_secret)["oauth_token"]

    def o1_secret(self, t):
        """An access token's secret ("<token>-secret" here); None once invalidated."""
        with LOCK:
            gone = (t or "") in STATE["x_o1"]["invalidated"]
        return None if gone else (t or "") + "-secret"

    def o1_check(self, method, path, query, secret_of):
        """RFC 5849 3.4: the HMAC-SHA1 signature of this request, the token
        secret given by secret_of(oauth_token or None). Its oauth_* parameters."""
        auth = self.headers.get("Authorization") or ""
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
        if params.get("oauth_consumer_key") != CONF["consumerKey"]:
            raise problem(401, "Unauthorized", "Unauthorized")
        # RFC 5849 signature, independent of the C core; the token secret is
        # "<token>-secret" in this sandbox
        url = "http://" + self.headers.get("Host") + path
        # the query's parameters are signed too (RFC 5849 3.4.1.3.1), repeated names kept
        pairs = [(enc(k), enc(v)) for k, v in params.items()]
        pairs += [(enc(k), enc(v)) for k, v in parse_qsl(query, keep_blank_values=True)]
        qs = "&".join(k + "=" + v for k, v in sorted(pairs))
        base = method + "&" + enc(url) + "&" + enc(qs)
        tsec = secret_of(params.get("oauth_token"))
        if tsec is None:
            raise problem(401, "Unauthorized", "Could not authenticate you: unknown oauth_token")
        if params.get("oauth_signature_method") != "HMAC-SHA1" or params.get("oauth_version", "1.0") != "1.0" \
                or not params.get("oauth_nonce") or not params.get("oauth_timestamp", "").isdigit():
            raise problem(401, "Unauthorized", "Could not authenticate you: bad oauth_* parameters")
        key = enc(CONF["consumerSecret"]) + "&" + enc(tsec)
        want = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(want, sig):
            raise problem(401, "Unauthorized", "Could not authenticate you: bad oauth_signature")
        params.setdefault("oauth_token", "")
        return params

    def o1_connect(self, method, path, q):
        """OAuth 1.0a 3-legged (docs.x.com .../obtaining-user-access-tokens): a reply or None."""
        query = urlsplit(self.path).query
        st = STATE["x_o1"]
        if path == "/oauth/request_token" and method == "POST":
            def no_token(t):
                return "" if t is None else None  # a request token call carries no oauth_token
            params = self.o1_check(method, path, query, no_token)
            cb = params.get("oauth_callback", "")
            u = urlsplit(cb)
            if u.scheme not in ("http", "https") or not u.netloc:
                raise problem(401, "Unauthorized", "Callback URL not approved for this client application")
            tk, sec = "o1rt-" + uuid.uuid4().hex, uuid.uuid4().hex
            with LOCK:
                st["req"][tk] = {"secret": sec, "callback": cb, "verifier": None, "used": False}
            return 200, ("oauth_token=%s&oauth_token_secret=%s&oauth_callback_confirmed=true" % (tk, sec)).encode(), \
                {"Content-Type": "text/html; charset=utf-8"}
        if path == "/oauth/authorize" and method == "GET":
            tk = q.get("oauth_token", "")
            with LOCK:
                rec = st["req"].get(tk)
                if not rec or rec["used"]:
                    raise problem(400, "Bad Request", "This page is no longer valid")
                sep = "&" if urlsplit(rec["callback"]).query else "?"
                if (STATE.get("oauth_scenario") or {}).get("twitter1") == "deny":
                    return 302, None, {"Location": rec["callback"] + sep + "denied=" + tk}
                rec["verifier"] = uuid.uuid4().hex[:20]
                return 302, None, {"Location": rec["callback"] + sep + "oauth_token=%s&oauth_verifier=%s"
                                   % (tk, rec["verifier"])}
        if path == "/oauth/access_token" and method == "POST":
            def req_secret(t):
                with LOCK:
                    rec = st["req"].get(t or "")
                return rec["secret"] if rec and not rec["used"] else None
            params = self.o1_check(method, path, query, req_secret)
            scen = (STATE.get("oauth_scenario") or {}).get("twitter1")
            if scen == "html":  # a proxy's error page
                return 502, b"<html><head><title>502 Bad Gateway</title></head><body>Bad gateway</body></html>", \
                    {"Content-Type": "text/html"}
            if scen == "500":
                raise problem(500, "Internal Server Error", "Internal Server Error")
            with LOCK:
                rec = st["req"][params["oauth_token"]]
                if not rec["verifier"] or params.get("oauth_verifier") != rec["verifier"]:
                    raise problem(401, "Unauthorized", "Error processing your OAuth request: Invalid oauth_verifier parameter")
                rec["used"] = True
                at = "o1at-" + uuid.uuid4().hex
                st["issued"] += 1
            return 200, ("oauth_token=%s&oauth_token_secret=%s-secret&user_id=2244994945&screen_name=sandbox_x"
                         % (at, at)).encode(), {"Content-Type": "text/html; charset=utf-8"}
        if path == "/1.1/oauth/invalidate_token" and method == "POST":
            # docs.x.com .../authentication/api-reference: signed with the token itself
            if (STATE.get("oauth_scenario") or {}).get("twitter1") == "invalidate500":
                raise problem(500, "Internal Error", "Internal Error")
            auth = self.headers.get("Authorization") or ""
            tk = auth.split('oauth_token="', 1)[1].split('"', 1)[0] if 'oauth_token="' in auth else ""
            if not tk.startswith("o1at-") or self.o1_secret(tk) is None:
                raise Reply(401, {"errors": [{"code": 89, "message": "Invalid or expired token."}]})
            self.o1_check(method, path, query, self.o1_secret)
            with LOCK:
                st["invalidated"].append(tk)
            return 200, {"access_token": tk}, None
        return None

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
            reset = int(sandbox_now()) + 900
            raise problem(429, "Too Many Requests", "Too Many Requests", headers={
                "x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
        if "daily" in token:  # the user's 24-hour cap spent
            now = int(sandbox_now())
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
        r = oauth_server.handle(self, method, path, q, raw) or self.o1_connect(method, path, q)
        if r:
            return r
        token = self.oauth_token(method, path, urlsplit(self.path).query)
        if path.startswith("/2/media/"):
            if "dup" not in token:  # a duplicate is a tweet's problem, not an upload's
                self.scenario(token)
            return self.media(method, path, q, raw, token)
        self.scenario(token)
        m = re.match(r"^/2/users/([0-9]{1,19})/tweets$", path)
        if m and method == "GET":
            return self.timeline(m.group(1), q, token)
        body = self.json_body(raw)
        if path == "/2/tweets" and method == "POST":
            ids = self.tweet_media(body)
            if not body.get("text") and not ids:
                raise problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
            tid = str(1346889436626259968 + next_id())
            text = body.get("text", "")
            with LOCK:
                drop, STATE["x_drop"] = STATE.get("x_drop"), None
                if drop != "before":
                    STATE["x_tweets"].append({"id": tid, "text": as_shown(text), "token": token,
                                              "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                                          time.gmtime(sandbox_now()))})
            self.note(tweet_id=tid, tweet_stored=drop != "before")
            if drop:
                raise DropReply()
            return 201, {"data": {"id": tid, "text": text, "edit_history_tweet_ids": [tid]}}, None

        if path.startswith("/2/dm_conversations/with/") and path.endswith("/messages"):
            return 201, {"data": {"dm_conversation_id": "1-%d" % next_id(), "dm_event_id": str(next_id())}}, None
        raise Reply(404, {"title": "Not Found Error", "status": 404, "type": "about:blank", "detail": path})

    def timeline(self, uid, q, token):
        """GET /2/users/:id/tweets (docs.x.com/x-api/posts/get-posts-by-user-id)."""
        with LOCK:
            boom = STATE.get("x_timeline_5xx", 0) > 0
            if boom:
                STATE["x_timeline_5xx"] -= 1
            mine = [dict(t) for t in reversed(STATE["x_tweets"]) if t["token"] == token]
        if boom:
            raise Reply(503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503})
        n = q.get("max_results", "10")
        if not n.isdigit() or not 5 <= int(n) <= 100:
            raise bad_request("max_results must be a number from 5 to 100")
        if uid != OAUTH["user"]:
            mine = []  # another account: none posted here
        fields = set(q.get("tweet.fields", "").split(","))
        data = [dict({"id": t["id"], "text": t["text"], "edit_history_tweet_ids": [t["id"]]},
                     **({"created_at": t["created_at"]} if "created_at" in fields else {}))
                for t in mine[:int(n)]]
        if not data:
            return 200, {"meta": {"result_count": 0}}, None
        return 200, {"data": data, "meta": {"result_count": len(data), "newest_id": data[0]["id"],
                                            "oldest_id": data[-1]["id"]}}, None

    def handle_any(self, method):
        try:
            Base.handle_any(self, method)
        except DropReply:  # the request was read (and maybe stored): the reply cut short
            # (a reply begun, so that curl does not resend the request on a fresh connection,
            # as it does when a reused connection closes before any byte)
            self.wfile.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            self.wfile.flush()
            self.close_connection = True

    def tweet_media(self, body):
        """media.media_ids of a tweet: 1 to 4 ids of media uploaded and processed,
        a GIF or a video alone."""
        if "media" not in body:
            return []
        media = body["media"]
        ids = media.get("media_ids") if isinstance(media, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 4 or not all(isinstance(i, str) for i in ids):
            raise bad_request("media.media_ids must hold 1 to 4 media id strings")
        with LOCK:
            entries = [STATE["x_media"].get(i) for i in ids]
        for i, e in zip(ids, entries):
            if not e or e.get("state") != "succeeded":
                raise problem(400, "Invalid Request", "Your media IDs are invalid. (%s: %s)"
                              % (i, "unknown" if not e else "not processed: " + e["state"]))
        if len(ids) > 1 and any(e["category"] != "tweet_image" for e in entries):
            raise bad_request("a GIF or a video goes alone")
        self.note(media=[{"id": i, "sha256": e["sha256"], "size": e["size"], "alt": e.get("alt"),
                          "category": e["category"]} for i, e in zip(ids, entries)])
        return ids

    def media(self, method, path, q, raw, token):
        store = STATE["x_media"]
        if path == "/2/media/upload" and method == "POST":
            f = multipart(self.headers.get("Content-Type"), raw)
            if sorted(f) != ["media", "media_category"]:
                raise bad_request("upload: the fields are media and media_category, not %s" % sorted(f))
            cat = f["media_category"][0].decode()
            if cat != "tweet_image":
                raise bad_request("upload: media_category %r (this sandbox takes images in one request)" % cat)
            data, _, ctype = f["media"]
            kind = sniff(data)
            if kind not in ("image/jpeg", "image/png", "image/webp", "image/gif"):
                raise bad_request("upload: the media is not an image")
            if ctype != kind:
                raise bad_request("upload: the part says %r, the bytes are %s" % (ctype, kind))
            if len(data) > X_MAX_IMAGE:
                raise bad_request("upload: %d bytes, images are at most %d" % (len(data), X_MAX_IMAGE))
            mid = str(1880028106020515840 + next_id())
            digest = hashlib.sha256(data).hexdigest()
            with LOCK:
                store[mid] = {"category": cat, "state": "succeeded", "size": len(data), "sha256": digest}
            self.note(media_sha256=digest, media_size=len(data))
            return 200, {"data": {"id": mid, "media_key": "3_" + mid, "size": len(data), "expires_after_secs": 86400,
                                  "image": {"image_type": kind}}}, None
        if path == "/2/media/upload/initialize" and method == "POST":
            b = self.json_body(raw)
            cat, mtype, total = b.get("media_category"), b.get("media_type"), b.get("total_bytes")
            if sorted(b) != ["media_category", "media_type", "total_bytes"]:
                raise bad_request("initialize: the fields are media_category, media_type, total_bytes")
            if not ((cat == "tweet_gif" and mtype == "image/gif") or
                    (cat == "tweet_video" and mtype in ("video/mp4", "video/quicktime"))):
                raise bad_request("initialize: media_category %r with media_type %r" % (cat, mtype))
            cap = X_MAX_GIF if cat == "tweet_gif" else X_MAX_VIDEO
            if not isinstance(total, int) or isinstance(total, bool) or not 0 < total <= cap:
                raise bad_request("initialize: total_bytes %r (1 to %d)" % (total, cap))
            mid = str(1912090000000000000 + next_id())
            with LOCK:
                store[mid] = {"category": cat, "type": mtype, "total": total, "segments": {}, "state": "initialized",
                              "polls": 0}
            return 200, {"data": {"id": mid, "media_key": "7_" + mid, "expires_after_secs": 86400}}, None
        m = re.match(r"^/2/media/upload/(\d{1,32})/(append|finalize)$", path)
        if m and method == "POST":
            mid, op = m.groups()
            with LOCK:
                e = store.get(mid)
            if not e or "total" not in e:
                raise bad_request("%s: unknown media id %s" % (op, mid))
            if e["state"] != "initialized":
                raise bad_request("%s: media %s is already finalized" % (op, mid))
            if op == "append":
                f = multipart(self.headers.get("Content-Type"), raw)
                if sorted(f) != ["media", "segment_index"]:
                    raise bad_request("append: the fields are media and segment_index, not %s" % sorted(f))
                seg = f["segment_index"][0].decode()
                data = f["media"][0]
                if not re.match(r"^(0|[1-9][0-9]{0,2})$", seg):
                    raise bad_request("append: segment_index %r (0 to 999)" % seg)
                if not data or len(data) > X_MAX_CHUNK:
                    raise bad_request("append: a segment of %d bytes (1 to %d)" % (len(data), X_MAX_CHUNK))
                with LOCK:
                    if "media5xx" in token and not e.get("boomed"):  # one 503, then the segment is taken
                        e["boomed"] = True
                        raise Reply(503, {"title": "Service Unavailable", "detail": "Service Unavailable",
                                          "type": "about:blank", "status": 503})
                    if int(seg) in e["segments"]:
                        raise bad_request("append: segment %s twice" % seg)
                    e["segments"][int(seg)] = data
                # the entry keeps the segment's size and sha256, not its megabytes as text
                self.note(segment_index=int(seg), segment_size=len(data),
                          body="<a %d-byte multipart body: see size and sha256>" % len(raw))
                return 204, None, None
            if raw:
                raise bad_request("finalize: no body expected")
            with LOCK:
                segs = e["segments"]
                order = sorted(segs)
                blob = b"".join(segs[i] for i in order)
            if order != list(range(len(order))):
                raise bad_request("finalize: the segments are not contiguous from 0: %s" % order)
            if len(blob) != e["total"]:
                raise bad_request("finalize: total_bytes was %d, %d bytes were appended" % (e["total"], len(blob)))
            kind = sniff(blob)
            if kind != e["type"] and not (kind and kind.startswith("video/") and e["type"].startswith("video/")):
                raise bad_request("finalize: the bytes are %s, not %s" % (kind, e["type"]))
            digest = hashlib.sha256(blob).hexdigest()
            with LOCK:
                e.update(state="pending", sha256=digest, size=len(blob))
                e.pop("segments")
            self.note(media_sha256=digest, media_size=len(blob))
            return 200, {"data": {"id": mid, "media_key": "7_" + mid, "size": len(blob), "expires_after_secs": 86400,
                                  "processing_info": {"state": "pending", "check_after_secs": 1}}}, None
        if path == "/2/media/upload" and method == "GET":
            if q.get("command") != "STATUS" or sorted(q) != ["command", "media_id"]:
                raise bad_request("STATUS: command=STATUS and media_id are expected")
            with LOCK:
                e = store.get(q["media_id"])
                if not e or e["state"] == "initialized":
                    raise bad_request("STATUS: media %s is unknown or not finalized" % q["media_id"])
                e["polls"] = e.get("polls", 0) + 1
                if e["state"] in ("pending", "in_progress"):
                    if "mediaslow" in token:
                        e["state"] = "in_progress"
                    elif "mediafail" in token:
                        e["state"] = "failed"
                    else:
                        e["state"] = "succeeded" if e["polls"] >= POLLS_TO_FINISH else "in_progress"
                pi = {"state": e["state"]}
            if pi["state"] == "in_progress":
                pi.update(check_after_secs=2, progress_percent=50)
            elif pi["state"] == "failed":
                pi["error"] = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}
            else:
                pi["progress_percent"] = 100
            return 200, {"data": {"id": q["media_id"], "media_key": "7_" + q["media_id"], "processing_info": pi}}, None
        if path == "/2/media/metadata" and method == "POST":
            b = self.json_body(raw)
            mid = b.get("id")
            text = ((b.get("metadata") or {}).get("alt_text") or {}).get("text")
            with LOCK:
                e = store.get(mid) if isinstance(mid, str) else None
                if not e or e["state"] != "succeeded" or e["category"] == "tweet_video":
                    raise bad_request("metadata: media %r is unknown, not processed, or a video" % mid)
                if not isinstance(text, str) or not 0 < len(text) <= 1000:
                    raise bad_request("metadata: alt_text.text must be 1 to 1000 characters")
                e["alt"] = text
            return 200, {"data": {"id": mid, "associated_metadata": {"alt_text": {"text": text}}}}, None
        raise Reply(404, {"title": "Not Found Error", "status": 404, "type": "about:blank", "detail": path})


Handler = Twitter
