"""LinkedIn Posts API: version headers checked; the post id in x-restli-id.

Images API (learn.microsoft.com .../images-api): POST
/rest/images?action=initializeUpload answers an uploadUrl on this host
(/dms-uploads/<key>) and an image URN; one PUT of the image's bytes there
makes the image AVAILABLE. A post's content.media, content.multiImage
images and content.article.thumbnail must name images uploaded this way.
Videos API (.../videos-api): POST /rest/videos?action=initializeUpload
answers 4 MB uploadInstructions, each part PUT answers its ETag, POST
/rest/videos?action=finalizeUpload needs every ETag in order and the bytes
to add up to fileSizeBytes; GET /rest/videos/{urn} says PROCESSING, then
AVAILABLE after 2 looks. Token scenarios: "uploadexpired" (a PUT answers
403: the URL expired), "uploadexpiredonce" (the first PUT only), "mediafail" (PROCESSING_FAILED), "mediaslow" (always
PROCESSING). The
PUT's /__requests entry records "image" and "media_sha256"; a post records
"images" (the URNs it used, with their sha256 and alt text)."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

import media_kit
from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id, now as sandbox_now
import oauth_server

NETWORK = "linkedin"
CONF = {}
STATE_DEFAULTS = {"li_images": {}, "li_uploads": {}, "li_expired_once": []}
STATE_DEFAULTS.update(oauth_server.defaults(NETWORK))
# 3-legged OAuth (learn.microsoft.com/linkedin/shared/authentication/authorization-code-flow):
# client credentials in the body, no PKCE; this sandbox app is a partner
# with (non-rotating) refresh tokens; identity from OpenID userinfo
OAUTH = {"authorize": "/oauth/v2/authorization", "token": "/oauth/v2/accessToken", "revoke": "/oauth/v2/revoke",
         "identity": "/v2/userinfo", "client_id": "li-client-id", "client_secret": "li-client-secret",
         "basic": False, "pkce": False, "rotating": False, "refresh_scope": None, "prefix": "li",
         "refresh_expires_in": 31536000,
         "scopes": {"openid", "profile", "email", "w_member_social", "r_basicprofile"},
         "user": "abc123", "identity_reply": {"sub": "abc123", "name": "Sandbox Person", "given_name": "Sandbox"},
         "unauthorized": {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
                          "message": "Invalid access token"}}
LI_PART = 4 * 1024 * 1024
LI_MAX_VIDEO = 500 * 1024 * 1024
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
    OAUTH = OAUTH

    def route(self, method, path, q, raw):
        r = oauth_server.handle(self, method, path, q, raw)
        if r:
            return r
        if method == "PUT" and path.startswith("/dms-uploads/"):
            if "/part/" in path:
                return self.put_part(path[len("/dms-uploads/"):], raw)
            return self.put_image(path[len("/dms-uploads/"):], raw)
        if not ((path == "/rest/posts" and method == "POST") or
                (path == "/rest/images" and method == "POST" and q.get("action") == "initializeUpload") or
                (path == "/rest/videos" and method == "POST" and q.get("action") in ("initializeUpload", "finalizeUpload")) or
                (path.startswith("/rest/videos/") and method == "GET")):
            raise Reply(404, {"status": 404, "message": "Not found"})
        if self.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            raise Reply(400, {"status": 400, "message": "X-Restli-Protocol-Version 2.0.0 is required"})
        ver = self.headers.get("LinkedIn-Version") or ""
        if not (len(ver) == 6 and ver.isdigit()):
            raise Reply(400, {"status": 400, "code": "VERSION_MISSING", "message": "A version must be present"})
        if ver < "202501":
            raise Reply(426, {"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version %s is not active" % ver})
        token = self.bearer() or ""
        oauth_server.check_bearer(self, token)  # one issued by the sandbox: live
        if "expired" in token and "uploadexpired" not in token:
            raise Reply(401, {"status": 401, "serviceErrorCode": 65600, "code": "EXPIRED_ACCESS_TOKEN",
                              "message": "The token used in the request has expired"})
        if "noperm" in token:
            raise Reply(403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                              "message": "Not enough permissions to access: POST %s" % path})
        if path == "/rest/images":
            return self.initialize_upload(raw, token)
        if path == "/rest/videos":
            if q["action"] == "initializeUpload":
                return self.initialize_video(raw, token)
            return self.finalize_video(raw)
        if path.startswith("/rest/videos/"):
            return self.video_status(path[len("/rest/videos/"):], token)
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
        content = body.get("content") or {}
        if len(content) > 1:
            raise Reply(422, {"status": 422, "message": "ERROR :: /content :: one of article, media, multiImage"})
        article = content.get("article")
        if article is not None and not article.get("title"):
            raise Reply(422, {"status": 422, "message": "ERROR :: /content/article/title :: field is required but not found"})
        self.post_images(body["author"], content)
        return 201, None, {"x-restli-id": "urn:li:share:%d" % (7141138937766391808 + next_id())}

    def initialize_upload(self, raw, token):
        body = self.json_body(raw)
        req = body.get("initializeUploadRequest") if list(body) == ["initializeUploadRequest"] else None
        owner = req.get("owner") if isinstance(req, dict) and list(req) == ["owner"] else None
        if not isinstance(owner, str) or not re.match(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$", owner):
            raise Reply(422, {"status": 422, "message": "ERROR :: /initializeUploadRequest/owner :: a person or organization URN is required"})
        key = uuid.uuid4().hex
        urn = "urn:li:image:C4E10AQ%d" % next_id()
        with LOCK:
            STATE["li_uploads"][key] = {"image": urn, "token": token}
            STATE["li_images"][urn] = {"owner": owner, "status": "WAITING_UPLOAD"}
        host = self.headers.get("Host")
        return 200, {"value": {"uploadUrlExpiresAt": int(sandbox_now() * 1000) + 3600000,
                               "uploadUrl": "http://%s/dms-uploads/%s" % (host, key), "image": urn}}, None

    def expired(self, token):
        """"uploadexpired": every PUT is refused; "uploadexpiredonce": the member's first only."""
        with LOCK:
            once = "uploadexpiredonce" in token and token not in STATE["li_expired_once"]
            if once:
                STATE["li_expired_once"].append(token)
        if once or ("uploadexpired" in token and "uploadexpiredonce" not in token):
            raise Reply(403, {"status": 403, "message": "The upload URL has expired"})

    def put_image(self, key, raw):
        token = self.bearer() or ""
        with LOCK:
            up = STATE["li_uploads"].get(key)
        if not up or token != up["token"]:
            raise Reply(403, {"status": 403, "message": "sandbox: unknown upload URL or another member's token"})
        self.expired(token)
        if media_kit.sniff(raw, ("image/jpeg", "image/png", "image/gif")) is None:
            raise Reply(400, {"status": 400, "message": "sandbox: the uploaded bytes are not a JPEG, PNG or GIF"})
        digest = hashlib.sha256(raw).hexdigest()
        with LOCK:
            img = STATE["li_images"][up["image"]]
            if img["status"] != "WAITING_UPLOAD":
                raise Reply(400, {"status": 400, "message": "sandbox: the image was uploaded already"})
            img.update(status="AVAILABLE", sha256=digest, size=len(raw))
        self.note(image=up["image"], media_sha256=digest, media_size=len(raw))
        return 201, None, None

    def initialize_video(self, raw, token):
        body = self.json_body(raw)
        req = body.get("initializeUploadRequest") if list(body) == ["initializeUploadRequest"] else None
        if not isinstance(req, dict) or sorted(req) != ["fileSizeBytes", "owner", "uploadCaptions", "uploadThumbnail"]:
            raise Reply(422, {"status": 422, "message": "ERROR :: /initializeUploadRequest :: owner, fileSizeBytes, uploadCaptions, uploadThumbnail"})
        owner, size = req["owner"], req["fileSizeBytes"]
        if not isinstance(owner, str) or not re.match(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$", owner):
            raise Reply(422, {"status": 422, "message": "ERROR :: /initializeUploadRequest/owner :: a person or organization URN is required"})
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= LI_MAX_VIDEO:
            raise Reply(422, {"status": 422, "message": "ERROR :: /initializeUploadRequest/fileSizeBytes :: 1 to %d" % LI_MAX_VIDEO})
        if req["uploadCaptions"] is not False or req["uploadThumbnail"] is not False:
            raise Reply(422, {"status": 422, "message": "sandbox: captions and thumbnails are not uploaded"})
        key, urn = uuid.uuid4().hex, "urn:li:video:C5505AQ%d" % next_id()
        host = self.headers.get("Host")
        parts = [(i, first, min(first + LI_PART, size) - 1) for i, first in enumerate(range(0, size, LI_PART))]
        with LOCK:
            STATE["li_uploads"][key] = {"video": urn, "token": token, "parts": {}, "size": size,
                                        "ranges": parts, "upload_token": "tok-" + key[:8]}
            STATE["li_images"][urn] = {"owner": owner, "status": "WAITING_UPLOAD", "video": True, "looks": 0, "key": key}
        return 200, {"value": {"uploadUrlsExpireAt": int(sandbox_now() * 1000) + 3600000, "video": urn,
                               "uploadInstructions": [{"uploadUrl": "http://%s/dms-uploads/%s/part/%d" % (host, key, i),
                                                       "firstByte": f, "lastByte": l} for i, f, l in parts],
                               "uploadToken": "tok-" + key[:8]}}, None

    def put_part(self, rest, raw):
        key, _, idx = rest.partition("/part/")
        token = self.bearer() or ""
        with LOCK:
            up = STATE["li_uploads"].get(key)
        if not up or token != up["token"] or not idx.isdigit() or int(idx) >= len(up.get("ranges", [])):
            raise Reply(403, {"status": 403, "message": "sandbox: unknown upload URL or another member's token"})
        self.expired(token)
        i, first, last = up["ranges"][int(idx)]
        if len(raw) != last - first + 1:
            raise Reply(400, {"status": 400, "message": "sandbox: part %d must be bytes %d-%d (%d bytes), got %d"
                              % (i, first, last, last - first + 1, len(raw))})
        etag = "/ambry-video/signedId/%s-%d" % (hashlib.sha256(raw).hexdigest()[:16], i)
        with LOCK:
            if i in up["parts"]:
                raise Reply(400, {"status": 400, "message": "sandbox: part %d was uploaded already" % i})
            up["parts"][i] = (raw, etag)
        self.note(part=i, body="<%d bytes: see size and sha256>" % len(raw))
        return 200, None, {"ETag": etag}

    def finalize_video(self, raw):
        body = self.json_body(raw)
        req = body.get("finalizeUploadRequest") if list(body) == ["finalizeUploadRequest"] else None
        if not isinstance(req, dict) or sorted(req) != ["uploadToken", "uploadedPartIds", "video"]:
            raise Reply(422, {"status": 422, "message": "ERROR :: /finalizeUploadRequest :: video, uploadToken, uploadedPartIds"})
        with LOCK:
            img = STATE["li_images"].get(req["video"])
            up = STATE["li_uploads"].get(img["key"]) if img and img.get("video") else None
            if not up or img["status"] != "WAITING_UPLOAD":
                raise Reply(422, {"status": 422, "message": "sandbox: unknown video or finalized already"})
            parts = [up["parts"].get(i) for i in range(len(up["ranges"]))]
            if any(p is None for p in parts):
                raise Reply(422, {"status": 422, "message": "sandbox: parts missing: %s" % [i for i, p in enumerate(parts) if p is None]})
            if req["uploadedPartIds"] != [p[1] for p in parts]:
                raise Reply(422, {"status": 422, "message": "sandbox: uploadedPartIds are not the parts' ETags in order"})
            if req["uploadToken"] != up["upload_token"]:
                raise Reply(422, {"status": 422, "message": "sandbox: wrong uploadToken"})
            blob = b"".join(p[0] for p in parts)
            if len(blob) != up["size"] or blob[4:8] != b"ftyp":
                raise Reply(422, {"status": 422, "message": "sandbox: the parts are not an MP4 of fileSizeBytes"})
            digest = hashlib.sha256(blob).hexdigest()
            img.update(status="PROCESSING", sha256=digest, size=len(blob))
            up["parts"] = {}
        self.note(media_sha256=digest, media_size=len(blob))
        return 200, None, None

    def video_status(self, quoted, token):
        from urllib.parse import unquote
        urn = unquote(quoted)
        if quoted == urn:  # the URN goes URL-encoded in the path
            raise Reply(400, {"status": 400, "message": "sandbox: the video URN must be URL-encoded in the path"})
        with LOCK:
            img = STATE["li_images"].get(urn)
            if not img or not img.get("video"):
                raise Reply(404, {"status": 404, "message": "Not found"})
            img["looks"] += 1
            if img["status"] == "PROCESSING":
                if "mediafail" in token:
                    img["status"] = "PROCESSING_FAILED"
                elif "mediaslow" not in token and img["looks"] >= 2:
                    img["status"] = "AVAILABLE"
            out = {"id": urn, "status": img["status"], "owner": img["owner"]}
        if out["status"] == "PROCESSING_FAILED":
            out["processingFailureReason"] = "sandbox: the video could not be transcoded"
        return 200, out, None

    def post_images(self, author, content):
        """Every image a post names is AVAILABLE and the author's."""
        used = []
        if "media" in content:
            used = [content["media"]]
        elif "multiImage" in content:
            used = content["multiImage"].get("images") or []
            if not 2 <= len(used) <= 20:
                raise Reply(422, {"status": 422, "message": "ERROR :: /content/multiImage/images :: 2 to 20 images"})
        elif "thumbnail" in (content.get("article") or {}):
            art = content["article"]
            used = [{"id": art["thumbnail"]}]
            if "thumbnailAltText" in art:
                used[0]["altText"] = art["thumbnailAltText"]
        out = []
        for m in used:
            urn = m.get("id") if isinstance(m, dict) else None
            with LOCK:
                img = STATE["li_images"].get(urn)
            if img and img.get("video") and len(used) > 1:
                raise Reply(422, {"status": 422, "message": "ERROR :: /content :: a video goes alone"})
            if not img or img["status"] != "AVAILABLE" or img["owner"] != author:
                raise Reply(422, {"status": 422, "message": "ERROR :: /content :: image %s is not an available image of %s" % (urn, author)})
            alt = m.get("altText")
            if alt is not None and (not isinstance(alt, str) or len(alt) > 4086):
                raise Reply(422, {"status": 422, "message": "ERROR :: altText :: a string up to 4086 characters"})
            out.append({"id": urn, "sha256": img["sha256"], "alt": alt})
        if out:
            self.note(images=out)


Handler = LinkedIn
