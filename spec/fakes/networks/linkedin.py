"""LinkedIn Posts API: version headers checked; the post id in x-restli-id."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id

NETWORK = "linkedin"
CONF = {}
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


def null_field(v, path=""):
    """The path of the first null value in v, else None."""
    if v is None:
        return path or "/"
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        p = null_field(x, "%s/%s" % (path, k))
        if p:
            return p
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
        null = null_field(body)
        if null:  # Rest.li data has no null: an optional field is absent
            raise Reply(422, {"status": 422, "message": "ERROR :: %s :: null is not a valid value" % null})
        article = (body.get("content") or {}).get("article")
        if article is not None and not article.get("title"):
            raise Reply(422, {"status": 422, "message": "ERROR :: /content/article/title :: field is required but not found"})
        return 201, None, {"x-restli-id": "urn:li:share:%d" % (7141138937766391808 + next_id())}


Handler = LinkedIn
