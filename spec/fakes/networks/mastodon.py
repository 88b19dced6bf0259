"""Mastodon: /api/v2/instance limits, statuses measured with URL = 23, Idempotency-Key."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id, now as sandbox_now

NETWORK = "mastodon"
CONF = {"max_characters": 500, "characters_reserved_per_url": 23}
STATE_DEFAULTS = {"idem": {}}


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
            c = CONF
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
            reset = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(sandbox_now() + 300))
            raise Reply(429, {"error": "Too many requests"}, {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                                                              "X-RateLimit-Reset": reset})
        if "boom" in token:
            raise Reply(503, {"error": "Service Unavailable"})
        body = self.json_body(raw)
        text = body.get("status", "")
        if weighted(text, CONF["characters_reserved_per_url"]) > CONF["max_characters"]:
            raise Reply(422, {"error": "Validation failed: Text character limit of %d exceeded" % CONF["max_characters"]})
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


Handler = Mastodon
