"""Mastodon: /api/v2/instance limits, statuses measured with URL = 23, Idempotency-Key,
and media (mastodon/documentation content/en/methods/media.md):

  POST   /api/v2/media      multipart "file" (+ "description", "focus"), parsed and
                            checked here byte for byte; an image of at most
                            SYNC_BYTES is processed at once (200 with its url),
                            anything else answers 202 with "url": null
  GET    /api/v1/media/:id  206 while processing (the first poll), then 200;
                            422 when processing failed; 404 once attached
  DELETE /api/v1/media/:id  an unattached upload (422 once attached)
  POST   /api/v1/statuses   media_ids[]: each the account's own, unattached and
                            processed, at most 4, a video or audio alone (422
                            with Mastodon's own messages otherwise)

Tokens: "mediafail" -> processing fails (422 on the poll); "mediaslow" ->
processing never ends (206 forever); "postfail" -> uploads work, the status is
refused (422). Sandbox routes on this port:
GET /__media/<name> serves test files (shot.png, big.png, clip.mp4, page.html);
GET /__uploads/<id> is what an upload received (hex of the file's bytes, its
part's name, filename, type, the description, processing state, status id)."""
import base64, hashlib, hmac, json, random, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

import media_kit
from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id, now as sandbox_now
import oauth_server
from urllib.parse import parse_qsl

NETWORK = "mastodon"
CONF = {"max_characters": 500, "characters_reserved_per_url": 23, "max_media_attachments": 4,
        "image_size_limit": 16 * 1024 * 1024, "video_size_limit": 99 * 1024 * 1024}
STATE_DEFAULTS = {"idem": {}, "mastodon_media": {}}
STATE_DEFAULTS.update(oauth_server.defaults(NETWORK))
STATE_DEFAULTS["mastodon_apps"] = []  # each POST /api/v1/apps: {redirect_uris, scopes, client_name}
# OAuth per instance (docs.joinmastodon.org/spec/oauth, methods/apps, methods/oauth):
# POST /api/v1/apps registers the app (its client id is this sandbox's one);
# /oauth/authorize takes only a registered redirect_uri and scopes within the
# registered ones; PKCE S256 optional and advertised in the RFC 8414
# metadata (scenario "nopkce": the metadata is a 404, as before 4.3); client
# credentials in the body; tokens without expiry or refresh token
OAUTH = {"authorize": "/oauth/authorize", "token": "/oauth/token", "revoke": "/oauth/revoke",
         "identity": "/api/v1/accounts/verify_credentials", "client_id": "md-client-id",
         "client_secret": "md-client-secret", "basic": False, "pkce": False, "rotating": False,
         "refresh_scope": "(none)", "prefix": "md", "token_reply": "mastodon",
         "scopes": {"read", "write", "read:accounts", "write:statuses", "write:media", "profile", "push"},
         "user": "109", "identity_reply": {"id": "109", "username": "sandbox", "acct": "sandbox",
                                          "display_name": "Sandbox Mastodon"},
         "unauthorized": {"error": "The access token is invalid"}}
SYNC_BYTES = 1024      # images up to this size are processed at once
POLLS_TO_DONE = 2      # an asynchronous upload: 206 on the first poll, 200 on the second
MAX_DESCRIPTION = 1500  # MediaAttachment::MAX_DESCRIPTION_LENGTH
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
AUDIO_TYPES = ("audio/mpeg", "audio/mp3", "audio/ogg", "audio/wav")


def png(w, h, extra=0):
    """A PNG signature and IHDR of w x h, then `extra` filler bytes (not a real image: enough for type checks)."""
    import struct
    ihdr = struct.pack(">II", w, h) + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0\0\0\0" + bytes(i % 251 for i in range(extra))


TEST_FILES = {
    "shot.png": ("image/png", png(2, 3, 40)),
    "big.png": ("image/png", png(640, 480, 3000)),
    "clip.mp4": ("video/mp4", b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom" + bytes(i % 7 for i in range(2000))),
    "page.html": ("text/html", b"<!doctype html><html><body>not an image</body></html>"),
}


def bad(msg):
    return Reply(422, {"error": msg})


def parse_multipart(ctype, raw):
    """media_kit's strict multipart/form-data reader; its refusals are 422s
    (a repeated part is refused by upload's own rule: one file)."""
    try:
        return media_kit.parse_multipart(ctype, raw, unique=False)
    except media_kit.FormError as e:
        raise bad("multipart: %s" % e)


def _tlds():
    """The top-level domains (Debian's publicsuffix list): Mastodon's
    StatusLengthValidator weighs only URLs twitter-text extracts, and
    twitter-text wants a known TLD (https://game.example/ is plain text)."""
    try:
        with open("/usr/share/publicsuffix/public_suffix_list.dat", encoding="utf-8") as f:
            return {l.strip().lower() for l in f if l.strip() and not l.startswith("//") and "." not in l.strip()}
    except OSError:
        return None


TLDS = _tlds()


def weighted(text, url_weight):
    import re
    n = 0
    for part in re.split(r"(https?://\S+)", text):
        if part.startswith(("http://", "https://")):
            host = re.split(r"[/?#:]", part.split("://", 1)[1], 1)[0].lower().rstrip(".")
            if TLDS is None or host.rsplit(".", 1)[-1] in TLDS:
                n += url_weight
                continue
        n += len(part)
    return n


class Mastodon(Base):
    network = "mastodon"
    OAUTH = OAUTH

    def oauth_routes(self, method, path, q, raw):
        scen = (STATE.get("oauth_scenario") or {}).get(NETWORK)
        if path == "/.well-known/oauth-authorization-server" and method == "GET":
            if scen == "nopkce":
                return 404, {"error": "Not Found"}, None
            return 200, {"issuer": "https://sandbox.example/", "authorization_endpoint": "/oauth/authorize",
                         "token_endpoint": "/oauth/token", "revocation_endpoint": "/oauth/revoke",
                         "code_challenge_methods_supported": ["S256"],
                         "grant_types_supported": ["authorization_code", "client_credentials"]}, None
        if path == "/api/v1/apps" and method == "POST":
            ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ct != "application/x-www-form-urlencoded":
                raise Reply(422, {"error": "Validation failed: Content-Type"})
            f = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            if not f.get("client_name") or not f.get("redirect_uris"):
                raise Reply(422, {"error": "Validation failed: Application name can't be blank, Redirect URI can't be blank"})
            scopes = f.get("scopes") or "read"
            if any(x not in OAUTH["scopes"] for x in scopes.split(" ")):
                raise Reply(422, {"error": "Validation failed: Scopes are invalid"})
            if scen == "apps503":
                return 503, {"error": "Service Unavailable"}, None
            with LOCK:
                STATE["mastodon_apps"].append({"redirect_uris": f["redirect_uris"], "scopes": scopes,
                                               "client_name": f["client_name"]})
            time.sleep(0.05)  # a slow registration: concurrent first connects overlap
            return 200, {"id": str(len(STATE["mastodon_apps"])), "name": f["client_name"], "website": f.get("website"),
                         "scopes": scopes.split(" "), "redirect_uri": f["redirect_uris"],
                         "redirect_uris": f["redirect_uris"].split("\n"), "client_id": OAUTH["client_id"],
                         "client_secret": OAUTH["client_secret"]}, None
        if path == "/oauth/authorize" and method == "GET":
            with LOCK:
                apps = list(STATE["mastodon_apps"])
            if not apps:
                raise Reply(401, {"error": "invalid_client", "error_description": "no app registered"})
            if q.get("redirect_uri") not in apps[-1]["redirect_uris"].split("\n"):
                raise Reply(400, {"error": "invalid_redirect_uri"})
            reg = set(apps[-1]["scopes"].split(" "))
            if any(x not in reg for x in (q.get("scope") or "read").split(" ")):
                raise Reply(400, {"error": "invalid_scope", "error_description": "scope not registered"})
        return oauth_server.handle(self, method, path, q, raw)

    def auth(self):
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
        oauth_server.check_bearer(self, token)  # one issued by the sandbox: live
        return token

    def route(self, method, path, q, raw):
        r = self.oauth_routes(method, path, q, raw)
        if r:
            return r
        if path == "/api/v2/instance" and method == "GET":
            c = CONF
            return 200, {"domain": "sandbox.example", "configuration": {
                "statuses": {"max_characters": c["max_characters"], "max_media_attachments": c["max_media_attachments"],
                             "characters_reserved_per_url": c["characters_reserved_per_url"]},
                "media_attachments": {"supported_mime_types": list(IMAGE_TYPES + VIDEO_TYPES + AUDIO_TYPES),
                                      "image_size_limit": c["image_size_limit"],
                                      "video_size_limit": c["video_size_limit"]}}}, None
        if path.startswith("/__media/") and method == "GET":
            f = TEST_FILES.get(path[len("/__media/"):])
            if not f:
                raise Reply(404, {"error": "no such test file"})
            return 200, f[1], {"Content-Type": f[0]}
        if path.startswith("/__uploads/") and method == "GET":
            with LOCK:
                m = STATE["mastodon_media"].get(path[len("/__uploads/"):])
                if not m:
                    raise Reply(404, {"error": "no such upload"})
                return 200, {k: v for k, v in m.items() if k != "data"}, None
        if path == "/api/v2/media" and method == "POST":
            return self.upload(self.auth(), raw)
        mm = re.fullmatch(r"/api/v1/media/([0-9]+)", path)
        if mm and method in ("GET", "DELETE"):
            return self.media(self.auth(), mm.group(1), method)
        if path != "/api/v1/statuses" or method != "POST":
            raise Reply(404, {"error": "Record not found"})
        return self.status(self.auth(), raw)

    # ---- media --------------------------------------------------------------
    def upload(self, token, raw):
        parts = parse_multipart(self.headers.get("Content-Type"), raw)
        names = [p["name"] for p in parts]
        if names.count("file") != 1 or len(set(names)) != len(names) or set(names) - {"file", "description", "focus"}:
            raise bad("multipart parts %r: one file, and at most one description and focus" % names)
        f = [p for p in parts if p["name"] == "file"][0]
        if not f["filename"] or not f["type"] or not f["data"]:
            raise bad("the file part needs a filename, a Content-Type and bytes")
        for p in parts:
            if p is not f and (p["filename"] is not None or p["type"] is not None):
                raise bad("the %s part is a plain field, not a file" % p["name"])
        real = media_kit.sniff(f["data"])
        if real is None or real != f["type"] or real not in IMAGE_TYPES + VIDEO_TYPES + AUDIO_TYPES:
            raise bad("Validation failed: File content type is invalid")
        kind = "image" if real in IMAGE_TYPES else "video" if real in VIDEO_TYPES else "audio"
        limit = CONF["image_size_limit"] if kind == "image" else CONF["video_size_limit"]
        if len(f["data"]) > limit:
            raise bad("Validation failed: File file size must be less than %d MB" % (limit // 1048576))
        desc = None
        for p in parts:
            if p["name"] == "description":
                desc = p["data"].decode("utf-8", "strict")
                if len(desc) > MAX_DESCRIPTION:
                    raise bad("Validation failed: Description is too long (maximum is %d characters)" % MAX_DESCRIPTION)
        mid = str(113000000000000000 + next_id())
        sync = kind == "image" and real != "image/gif" and len(f["data"]) <= SYNC_BYTES
        if "mediaslow" in token or "mediafail" in token:
            sync = False
        rec = {"id": mid, "token": token, "type": "gifv" if real == "image/gif" else kind, "hex": f["data"].hex(),
               "size": len(f["data"]), "sha256": hashlib.sha256(f["data"]).hexdigest(), "filename": f["filename"],
               "content_type": f["type"], "description": desc, "processing": "complete" if sync else "queued",
               "polls": 0, "status_id": None}
        with LOCK:
            STATE["mastodon_media"][mid] = rec
        return (200 if sync else 202), self.attachment(rec), None

    def attachment(self, rec):
        done = rec["processing"] == "complete"
        ext = rec["filename"].rsplit(".", 1)[-1]
        return {"id": rec["id"], "type": rec["type"], "description": rec["description"], "blurhash": None,
                "url": "https://files.sandbox.example/media/%s.%s" % (rec["id"], ext) if done else None,
                "preview_url": "https://files.sandbox.example/small/%s.png" % rec["id"], "remote_url": None,
                "meta": {}}

    def media(self, token, mid, method):
        with LOCK:
            rec = STATE["mastodon_media"].get(mid)
            if not rec or rec["token"] != token or (method == "GET" and rec["status_id"]):
                raise Reply(404, {"error": "Record not found"})
            if method == "DELETE":
                if rec["status_id"]:
                    raise bad("Media attachment is currently used by a status")
                del STATE["mastodon_media"][mid]
                return 200, self.attachment(rec), None
            rec["polls"] += 1
            if "mediafail" in token:
                rec["processing"] = "failed"
                raise bad("Error processing thumbnail for uploaded media")
            if "mediaslow" not in token and rec["polls"] >= POLLS_TO_DONE:
                rec["processing"] = "complete"
            return (200 if rec["processing"] == "complete" else 206), self.attachment(rec), None

    def attach(self, token, ids):
        """PostStatusService#validate_media!, with Mastodon's messages."""
        if ids is None:
            return []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise bad("media_ids must be an array of strings")
        if len(ids) > CONF["max_media_attachments"]:
            raise bad("Cannot attach more than %d files" % CONF["max_media_attachments"])
        recs = STATE["mastodon_media"]
        found = [recs[i] for i in ids if i in recs and recs[i]["token"] == token and not recs[i]["status_id"]]
        missing = [i for i in ids if i not in [r["id"] for r in found]]
        if missing:
            raise bad("Media %s not found or already attached to another post" % ", ".join(missing))
        if len(found) > 1 and any(r["type"] in ("video", "audio") for r in found):
            raise bad("Cannot attach a video to a post that already contains images")
        if any(r["processing"] != "complete" for r in found):
            raise bad("Cannot attach files that have not finished processing. Try again in a moment!")
        return found

    # ---- statuses -----------------------------------------------------------
    def status(self, token, raw):
        # POST /__config {"chaos": {"mastodon": {"boom": 0.05, "ratelimit": 0.005, "reset_s": 1}}}:
        # that share of the statuses, drawn at random, answers 503 / 429 (the soak, bench/outbox_soak.lua)
        chaos = (STATE.get("chaos") or {}).get(NETWORK) or {}
        if chaos:
            draw = random.random()
            if draw < chaos.get("boom", 0):
                raise Reply(503, {"error": "Service Unavailable"})
            if draw < chaos.get("boom", 0) + chaos.get("ratelimit", 0):
                reset = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(sandbox_now() + chaos.get("reset_s", 1)))
                raise Reply(429, {"error": "Too many requests"}, {"X-RateLimit-Limit": "300",
                                                                  "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
        body = self.json_body(raw)
        text = body.get("status", "")
        key = self.headers.get("Idempotency-Key")
        with LOCK:
            first = STATE["idem"].get((token, key)) if key else None
        if first is not None:
            self.note(deduplicated=True)  # the first post's reply, nothing created
            return 200, first, None
        ids = body.get("media_ids")
        if "postfail" in token:
            raise bad("Validation failed: Text contains a word this instance refuses")
        if not text and not ids:
            raise bad("Validation failed: Text can't be blank")
        if weighted(text, CONF["characters_reserved_per_url"]) > CONF["max_characters"]:
            raise Reply(422, {"error": "Validation failed: Text character limit of %d exceeded" % CONF["max_characters"]})
        sid = str(110000000000000000 + next_id())
        if "echo" in token:  # a hostile instance: the access token answered as the status id
            sid = token
        with LOCK:
            first = STATE["idem"].get((token, key)) if key else None  # the same key sent twice at once
            if first is None:
                media = self.attach(token, ids)
                for r in media:
                    r["status_id"] = sid
                status = {"id": sid, "url": "https://sandbox.example/@user/" + sid, "content": "<p>%s</p>" % text,
                          "visibility": body.get("visibility", "public"),
                          "media_attachments": [self.attachment(r) for r in media]}
                if key:
                    STATE["idem"][(token, key)] = status
        if first is not None:
            self.note(deduplicated=True)
            return 200, first, None
        return 200, status, None


Handler = Mastodon
