"""Threads (Meta): POST /v1.0/{user}/threads makes a container (media_type=TEXT,
text, link_attachment), POST /v1.0/{user}/threads_publish?creation_id= publishes
it; Graph-style errors (error.code, error_subcode, is_transient, fbtrace_id).
It checks the two steps in order (a container is published once, by the user
who made it), the 500-character text with emoji counted as their UTF-8 bytes,
and the 250 posts per 24 h quota (CONF["quota_total"])."""
import time, uuid
from urllib.parse import parse_qsl

from sandbox_core import LOCK, STATE, Base, Reply, next_id

NETWORK = "threads"
CONF = {"quota_total": 250, "max_text": 500}
STATE_DEFAULTS = {"threads_containers": {}, "threads_published": {}}
DEMO = {"provider": {"baseUrl": "{base}"}, "connection": {"accessToken": "th-token", "userId": "1789"}}


def th_error(status, code, message, subcode=None, transient=False):
    e = {"message": message, "type": "OAuthException", "code": code, "is_transient": transient,
         "fbtrace_id": "T" + uuid.uuid4().hex[:10]}
    if subcode:
        e["error_subcode"] = subcode
    return Reply(status, {"error": e})


def is_emoji(ch):
    o = ord(ch)
    return (0x1F000 <= o <= 0x1FAFF or 0x2600 <= o <= 0x27BF or 0xE0020 <= o <= 0xE007F
            or o in (0x200D, 0xFE0F, 0x20E3))


def threads_length(text):
    """Threads' own rule: characters, an emoji counting its UTF-8 bytes."""
    return sum(len(ch.encode("utf-8")) if is_emoji(ch) else 1 for ch in text)


class Threads(Base):
    def route(self, method, path, q, raw):
        p = dict(q)
        if method == "POST":
            p.update(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "v1.0" or not parts[1].isdigit() or method != "POST" \
                or parts[2] not in ("threads", "threads_publish"):
            raise th_error(400, 100, "Unsupported request: %s %s" % (method, path))
        user, edge = parts[1], parts[2]
        token = p.get("access_token", "")
        if not token or "expired" in token:
            raise th_error(400, 190, "Error validating access token: Session has expired.", 463)
        if "noperm" in token:
            raise th_error(403, 10, "Application does not have permission for this action (threads_content_publish)")
        if "ratelimit" in token:
            raise th_error(400, 4, "Application request limit reached", transient=True)
        if "policy" in token:
            raise th_error(400, 1, "We restrict certain activity to protect our community.", 2207051)
        if "boom" in token:
            raise th_error(500, 2, "An unexpected error has occurred. Please retry your request later.", transient=True)
        if edge == "threads":
            if p.get("media_type") != "TEXT":
                raise th_error(400, 100, "Param media_type must be one of {TEXT, IMAGE, VIDEO, CAROUSEL}")
            text = p.get("text", "")
            link = p.get("link_attachment")
            if not text and not link:
                raise th_error(400, 100, "Param text is required for TEXT posts")
            if threads_length(text) > CONF["max_text"]:
                raise th_error(400, 100, "Param text must be at most %d characters long" % CONF["max_text"])
            if link is not None and not link.startswith(("http://", "https://")):
                raise th_error(400, 100, "Param link_attachment must be a valid URL")
            cid = str(17800000000000000 + next_id())
            with LOCK:
                STATE["threads_containers"][cid] = {"user": user, "token": token, "published": False}
            return 200, {"id": cid}, None
        cid = p.get("creation_id", "")
        with LOCK:
            c = STATE["threads_containers"].get(cid)
            if not c or c["user"] != user or c["token"] != token:
                raise th_error(400, 24, "The requested resource does not exist", 4279009)
            if c["published"]:
                raise th_error(400, 100, "The container has already been published")
            day = [t for t in STATE["threads_published"].get(user, []) if t > time.time() - 86400]
            if "capped" in token or len(day) >= CONF["quota_total"]:
                raise th_error(400, 9, "You have reached the maximum number of posts (%d per 24 hours)"
                               % CONF["quota_total"], 2207042)
            c["published"] = True
            STATE["threads_published"][user] = day + [time.time()]
        return 200, {"id": str(18000000000000000 + next_id())}, None


Handler = Threads
