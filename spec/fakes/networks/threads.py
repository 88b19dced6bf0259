"""Threads (Meta): POST /v1.0/{user}/threads makes a container (media_type=TEXT,
text, link_attachment), POST /v1.0/{user}/threads_publish?creation_id= publishes
it; Graph-style errors (error.code, error_subcode, is_transient, fbtrace_id).
It checks the two steps in order (a container is published once, by the user
who made it), the 500-character text with emoji counted as their UTF-8 bytes,
and the 250 posts per 24 h quota (CONF["quota_total"]).

Media (docs/media.md): IMAGE (image_url) and VIDEO (video_url) containers,
carousel items (is_carousel_item=true, no text) and CAROUSEL containers
(children: 2 to 20 ids of this user's FINISHED carousel items, each used
once). GET /v1.0/{container}?fields=status,error_message answers the
container's status: an image is FINISHED at once, a video IN_PROGRESS at its
first poll and FINISHED from the second; threads_publish refuses a container
not FINISHED, or a carousel item. Scenarios: token "mediafail": media
containers end in ERROR; "mediaslow": they stay IN_PROGRESS. GET
/__containers answers the containers (tests)."""
import json, re, time, uuid
from urllib.parse import parse_qsl

from sandbox_core import LOCK, STATE, Base, Reply, next_id
import oauth_server

NETWORK = "threads"
CONF = {"quota_total": 250, "max_text": 500, "max_children": 20}
STATE_DEFAULTS = {"threads_containers": {}, "threads_published": {}, "threads_posts": []}
STATE_DEFAULTS.update(oauth_server.defaults(NETWORK))
# Threads OAuth (developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions):
# comma-separated scopes, client credentials in the body, no PKCE; the code
# gives a 1-hour token and the user id; GET /access_token th_exchange_token
# (client_secret, the short token) a 60-day one; GET /refresh_access_token
# th_refresh_token (the long token) a new one; identity /v1.0/me?fields=id,username
OAUTH = {"authorize": "/oauth/authorize", "token": "/oauth/access_token", "revoke": None,
         "identity": "/v1.0/me", "identity_params": {"fields": "id,username"},
         "exchange": "/access_token", "exchange_grant": "th_exchange_token",
         "refresh_get": "/refresh_access_token", "refresh_grant": "th_refresh_token", "long_ttl": 5184000,
         "client_id": "th-client-id", "client_secret": "th-client-secret", "basic": False, "pkce": False,
         "rotating": False, "refresh_scope": "(none)", "prefix": "th", "scope_sep": ",",
         "scopes": {"threads_basic", "threads_content_publish", "threads_manage_replies", "threads_read_replies"},
         "user": "1789", "token_reply": "threads", "identity_reply": {"id": "1789", "username": "sandbox_threads"},
         "unauthorized": {"error": {"message": "Error validating access token", "type": "OAuthException",
                                    "code": 190}}}
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
    OAUTH = OAUTH

    def route(self, method, path, q, raw):
        r = oauth_server.handle(self, method, path, q, raw)
        if r:
            return r
        if method == "GET" and path == "/__containers":
            with LOCK:
                return 200, json.loads(json.dumps(STATE["threads_containers"])), None
        p = dict(q)
        if method == "POST":
            p.update(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
        parts = path.strip("/").split("/")
        status_get = method == "GET" and len(parts) == 2 and parts[0] == "v1.0" and parts[1].isdigit()
        list_get = method == "GET" and len(parts) == 3 and parts[0] == "v1.0" and parts[1].isdigit() \
            and parts[2] == "threads"
        if not status_get and not list_get and (len(parts) != 3 or parts[0] != "v1.0" or not parts[1].isdigit() or method != "POST"
                               or parts[2] not in ("threads", "threads_publish")):
            raise th_error(400, 100, "Unsupported request: %s %s" % (method, path))
        token = p.get("access_token", "")
        if not token or "expired" in token:
            raise th_error(400, 190, "Error validating access token: Session has expired.", 463)
        if token.startswith(OAUTH["prefix"] + "at-"):  # issued by the sandbox's Threads: live
            try:
                oauth_server.check_bearer(self, token)
            except Reply:
                raise th_error(400, 190, "Error validating access token: Session has expired.", 463)
        if "noperm" in token:
            raise th_error(403, 10, "Application does not have permission for this action (threads_content_publish)")
        if "ratelimit" in token:
            raise th_error(400, 4, "Application request limit reached", transient=True)
        if "policy" in token:
            raise th_error(400, 1, "We restrict certain activity to protect our community.", 2207051)
        if "boom" in token:
            raise th_error(500, 2, "An unexpected error has occurred. Please retry your request later.", transient=True)
        if status_get:
            return self.status(parts[1], p, token)
        if list_get:
            return self.user_threads(parts[1], p)
        user, edge = parts[1], parts[2]
        if edge == "threads" and p.get("media_type") in ("IMAGE", "VIDEO", "CAROUSEL"):
            return self.media(user, p, token)
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
                STATE["threads_containers"][cid] = {"user": user, "token": token, "published": False,
                                                    "text": text}
            return 200, {"id": cid}, None
        cid = p.get("creation_id", "")
        post = str(18000000000000000 + next_id())  # next_id takes the lock: before it
        with LOCK:
            c = STATE["threads_containers"].get(cid)
            if not c or c["user"] != user or c["token"] != token:
                raise th_error(400, 24, "The requested resource does not exist", 4279009)
            if c["published"]:
                raise th_error(400, 100, "The container has already been published")
            if c.get("carousel_item"):
                raise th_error(400, 100, "A carousel item cannot be published on its own")
            if c.get("status", "FINISHED") != "FINISHED":
                raise th_error(400, 9007, "The media is not ready for publishing, please wait for a moment", 2207027)
            day = [t for t in STATE["threads_published"].get(user, []) if t > time.time() - 86400]
            if "capped" in token or len(day) >= CONF["quota_total"]:
                raise th_error(400, 9, "You have reached the maximum number of posts (%d per 24 hours)"
                               % CONF["quota_total"], 2207042)
            c["published"] = True
            STATE["threads_published"][user] = day + [time.time()]
            STATE["threads_posts"].append({"user": user, "id": post, "text": c.get("text"),
                                           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())})
        self.note(post_id=post)
        return 200, {"id": post}, None

    def user_threads(self, user, p):
        """GET /{user-id}/threads: the user's posts, newest first, the fields
        asked (id always; a post without text has none), limit up to 100."""
        fields = [f for f in p.get("fields", "id").split(",") if f]
        n = p.get("limit", "25")
        if not n.isdigit() or not 1 <= int(n) <= 100 or set(fields) - {"id", "text", "timestamp", "media_type"}:
            raise th_error(400, 100, "Invalid parameter: fields or limit")
        with LOCK:
            mine = [dict(x) for x in reversed(STATE["threads_posts"]) if x["user"] == user][:int(n)]
        data = [{f: x[f] for f in set(fields) | {"id"} if x.get(f) is not None} for x in mine]
        return 200, {"data": data, "paging": {"cursors": {"before": "b", "after": "a"}}}, None

    def media(self, user, p, token):
        kind, text = p["media_type"], p.get("text")
        if text is not None and threads_length(text) > CONF["max_text"]:
            raise th_error(400, 100, "Param text must be at most %d characters long" % CONF["max_text"])
        if "link_attachment" in p:
            raise th_error(400, 100, "Param link_attachment is only for TEXT posts")
        c = {"user": user, "token": token, "published": False, "type": kind, "text": text, "polls": 0}
        if kind == "CAROUSEL":
            ids = p.get("children", "").split(",")
            if not (2 <= len(ids) <= CONF["max_children"]) or p.get("is_carousel_item"):
                raise th_error(400, 100, "Param children must list 2 to %d carousel items" % CONF["max_children"])
            with LOCK:
                for i in ids:
                    ch = STATE["threads_containers"].get(i)
                    if not ch or ch["user"] != user or not ch.get("carousel_item") or ch.get("in_carousel") \
                            or ch.get("status") != "FINISHED" or ids.count(i) > 1:
                        raise th_error(400, 100, "Param children: %s is not a finished carousel item of this user" % i)
            c.update({"children": ids, "status": "FINISHED"})
        else:
            key, other = ("image_url", "video_url") if kind == "IMAGE" else ("video_url", "image_url")
            url = p.get(key)
            if not url or not re.match(r"https?://[^\s/]+/", url) or other in p:
                raise th_error(400, 100, "Param %s must be a valid URL (and %s absent)" % (key, other))
            alt = p.get("alt_text")
            if alt is not None and len(alt) > 1000:
                raise th_error(400, 100, "Param alt_text must be at most 1000 characters long")
            item = p.get("is_carousel_item")
            if item not in (None, "true", "false"):
                raise th_error(400, 100, "Param is_carousel_item must be a boolean")
            if item == "true" and text is not None:
                raise th_error(400, 100, "A carousel item has no text (the CAROUSEL container has it)")
            c.update({"url": url, "alt": alt, "carousel_item": item == "true",
                      "status": "FINISHED" if kind == "IMAGE" else "IN_PROGRESS"})
            if "mediafail" in token:
                c.update({"status": "IN_PROGRESS", "fail": True})
            if "mediaslow" in token:
                c["status"] = "IN_PROGRESS"
        cid = str(17800000000000000 + next_id())
        with LOCK:
            if kind == "CAROUSEL":
                for i in c["children"]:
                    STATE["threads_containers"][i]["in_carousel"] = cid
            STATE["threads_containers"][cid] = c
        return 200, {"id": cid}, None

    def status(self, cid, p, token):
        fields = p.get("fields", "").split(",")
        if "status" not in fields:
            raise th_error(400, 100, "Param fields must include status")
        with LOCK:
            c = STATE["threads_containers"].get(cid)
            if not c or c["token"] != token:
                raise th_error(400, 24, "The requested resource does not exist", 4279009)
            c["polls"] += 1
            if c.get("fail"):
                c["status"] = "ERROR"
            elif c["status"] == "IN_PROGRESS" and c["polls"] >= 2 and "mediaslow" not in token:
                c["status"] = "FINISHED"
            out = {"id": cid, "status": c["status"]}
            if c["status"] == "ERROR" and "error_message" in fields:
                out["error_message"] = "MEDIA_DOWNLOAD_FAILED: the media could not be fetched from its URL"
        return 200, out, None


Handler = Threads
