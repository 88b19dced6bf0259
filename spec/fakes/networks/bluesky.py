"""Bluesky: createSession, createRecord with facets' byte offsets checked."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id, now as sandbox_now

NETWORK = "bluesky"
CONF = {"password": "app-pass-1234"}
STATE_DEFAULTS = {"sessions": {}, "session_count": 0, "expire_bluesky": False}


class Bluesky(Base):
    network = "bluesky"

    def route(self, method, path, q, raw):
        body = self.json_body(raw) if raw else {}
        if path == "/xrpc/com.atproto.server.createSession":
            ident = body.get("identifier", "")
            if "ratelimit" in ident:
                raise Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                            {"RateLimit-Limit": "30", "RateLimit-Remaining": "0",
                             "RateLimit-Reset": str(int(sandbox_now()) + 300), "RateLimit-Policy": "30;w=300"})
            if body.get("password") != CONF["password"]:
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


Handler = Bluesky
