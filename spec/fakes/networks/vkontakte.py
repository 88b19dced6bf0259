"""VK wall.post: errors with HTTP 200; guid de-duplicates. Photos:
photos.getWallUploadServer -> an upload URL on this server (/upload/<ticket>)
-> the multipart `photo` parsed by our own code (one part, a file name with
the image's extension, the type checked against the bytes) -> {server, photo,
hash} -> photos.saveWallPhoto checks them against the upload and the wall
(user_id / group_id) -> photo<owner>_<id>; wall.post refuses an attachment
naming a photo never saved; photos.delete. GET /__photo/<owner>_<id> answers
a saved photo's bytes (for tests).
Faults by token: "uploadexpired" -> the first upload URL has expired (a new
one works), "uploadexpiredalways" -> every one has, "uploadfail" -> 500 from
the upload server, "savefail" -> error 10 from photos.saveWallPhoto,
"uploadprivate" -> an upload URL on a link-local address (169.254.169.254),
"wallfail" -> error 214 from wall.post alone (after the uploads)."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

import media_kit
from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id
import oauth_server

NETWORK = "vkontakte"
CONF = {"upload_secret": b"vk-upload-secret"}
STATE_DEFAULTS = {"guids": {}, "vk_tickets": {}, "vk_uploads": {}, "vk_photos": {}, "vk_expired_once": {}}
STATE_DEFAULTS.update(oauth_server.defaults(NETWORK))
# VK ID (OAuth 2.1, id.vk.com): PKCE S256 required, a public client (client_id
# in the body), the callback's device_id and a state on every token call,
# refresh tokens rotated (spec/fakes/oauth_server.py); identity by POST
OAUTH = {"authorize": "/authorize", "token": "/oauth2/auth", "revoke": None, "identity": "/oauth2/user_info",
         "identity_post": True, "client_id": "vk-client-id", "client_secret": "vk-client-secret", "public": True,
         "basic": False, "pkce": True, "rotating": True, "refresh_scope": None, "prefix": "vk",
         "callback_param": "device_id", "token_state": True,
         "scopes": {"vkid.personal_info", "wall", "photos", "email"}, "user": "1001",
         "identity_reply": {"user": {"user_id": 1001, "first_name": "Sandbox", "last_name": "VK"}},
         "unauthorized": {"error": "invalid_token", "error_description": "access_token is missing or invalid"}}
MAX_PHOTO = 50 * 1024 * 1024
EXT = {"image/jpeg": ("jpg", "jpeg"), "image/png": ("png",), "image/gif": ("gif",)}


def vk_error(code, msg, params):
    return Reply(200, {"error": {"error_code": code, "error_msg": msg,
                                 "request_params": [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]}})


def sniff(data):
    return media_kit.sniff(data, ("image/jpeg", "image/png", "image/gif"))


def multipart(ctype, raw):
    """media_kit's strict multipart/form-data reader: [part], or None."""
    try:
        return media_kit.parse_multipart(ctype, raw)
    except media_kit.FormError:
        return None


def owner_check(p, want_owner):
    """photos.saveWallPhoto names the wall: user_id (a user) or group_id (a community, -owner); the owner or None."""
    if want_owner:
        return want_owner if p.get("group_id") == want_owner[1:] and "user_id" not in p else None
    u = p.get("user_id", "")
    return u if u.isdigit() and "group_id" not in p else None


class VK(Base):
    network = "vkontakte"
    OAUTH = OAUTH

    def token_faults(self, p):
        token = p.get("access_token", "")
        if not p.get("v"):
            raise vk_error(8, "Invalid request: v (version) is required", p)
        if not token or "expired" in token and "uploadexpired" not in token:
            raise vk_error(5, "User authorization failed: invalid access_token (4).", p)
        if token.startswith(OAUTH["prefix"] + "at-"):  # issued by the sandbox's VK ID: live
            try:
                oauth_server.check_bearer(self, token)
            except Reply:
                raise vk_error(5, "User authorization failed: invalid access_token (4).", p)
        if "noperm" in token:
            raise vk_error(15, "Access denied: no access to call this method", p)
        if "ratelimit" in token:
            raise vk_error(6, "Too many requests per second", p)
        if "policy" in token:
            raise vk_error(14, "Captcha needed", p)
        if "boom" in token:
            raise Reply(502, b"<html>502 Bad Gateway</html>")
        return token

    def upload(self, ticket, raw):
        with LOCK:
            t = STATE["vk_tickets"].get(ticket)
        if not t:
            return 200, {"error": "ERR_UPLOAD_BAD_URL: unknown upload url"}, None
        if "uploadfail" in t["token"]:
            raise Reply(500, b"<html>500 Internal Server Error</html>")
        if t["expired"]:
            return 200, {"error": "ERR_UPLOAD_EXPIRED: upload url has expired"}, None
        parts = multipart(self.headers.get("Content-Type"), raw)
        if parts is None:
            return 200, {"error": "ERR_UPLOAD_BAD_REQUEST: not multipart/form-data"}, None
        photos = [pt for pt in parts if pt["name"] == "photo"]
        if len(parts) != 1 or len(photos) != 1:
            return 200, {"server": 812345, "photo": "[]", "hash": "0"}, None
        body = photos[0]["data"]
        kind = sniff(body)
        ext = (photos[0]["filename"] or "").rsplit(".", 1)[-1].lower()
        if kind is None or photos[0]["type"] != kind or ext not in EXT[kind]:
            return 200, {"error": "ERR_UPLOAD_BAD_IMAGE: not a jpg, png or gif (type %r, file %r)"
                         % (photos[0]["type"], photos[0]["filename"])}, None
        if len(body) > MAX_PHOTO:
            return 200, {"error": "ERR_UPLOAD_BAD_IMAGE_SIZE: photo is too big"}, None
        photo = json.dumps([{"photo": hashlib.sha1(body).hexdigest()[:10] + ":w", "sizes": [],
                             "kid": uuid.uuid4().hex[:8]}], separators=(",", ":"))
        h = hmac.new(CONF["upload_secret"], photo.encode(), hashlib.sha256).hexdigest()[:32]
        with LOCK:
            STATE["vk_uploads"][photo] = {"hash": h, "owner": t["owner"], "data": body, "saved": False}
        return 200, {"server": 812345, "photo": photo, "hash": h}, None

    def route(self, method, path, q, raw):
        r = oauth_server.handle(self, method, path, q, raw)
        if r:
            return r
        if path.startswith("/upload/"):
            return self.upload(path[len("/upload/"):], raw)
        if method == "GET" and path.startswith("/__photo/"):
            with LOCK:
                ph = STATE["vk_photos"].get("photo" + path[len("/__photo/"):])
            if not ph:
                raise Reply(404, {"error": "no such photo"})
            return 200, ph["data"], {"Content-Type": sniff(ph["data"]) or "application/octet-stream"}
        p = dict(q)
        p.update(self.form(raw))
        if path == "/method/photos.getWallUploadServer":
            token = self.token_faults(p)
            owner = "-" + p["group_id"] if p.get("group_id") else None  # a user: the token's (named at save)
            if p.get("group_id") and not p["group_id"].isdigit():
                raise vk_error(100, "One of the parameters specified was missing or invalid: group_id", p)
            ticket = uuid.uuid4().hex
            with LOCK:
                expired = "uploadexpiredalways" in token or (
                    "uploadexpired" in token and not STATE["vk_expired_once"].get(token))
                if "uploadexpired" in token:
                    STATE["vk_expired_once"][token] = True
                STATE["vk_tickets"][ticket] = {"token": token, "owner": owner, "expired": expired}
            host = "169.254.169.254" if "uploadprivate" in token else self.headers.get("Host")
            url = "http://%s/upload/%s?act=do_add&mid=1&aid=-14&gid=%s&hash=%s&api=1&wallphoto=1" % (
                host, ticket, p.get("group_id", "0"), ticket[:8])
            return 200, {"response": {"upload_url": url, "album_id": -14, "user_id": 1}}, None
        if path == "/method/photos.saveWallPhoto":
            token = self.token_faults(p)
            if "savefail" in token:
                raise vk_error(10, "Internal server error", p)
            with LOCK:
                up = STATE["vk_uploads"].get(p.get("photo", ""))
            if not up or p.get("server") != "812345" or p.get("hash") != up["hash"]:
                raise vk_error(121, "Invalid hash", p)
            owner = owner_check(p, up["owner"]) if up else None
            if up["saved"] or not owner:
                raise vk_error(100, "One of the parameters specified was missing or invalid: "
                               "photo was not uploaded for this wall", p)
            pid = next_id()
            with LOCK:
                up["saved"] = True
                STATE["vk_photos"]["photo%s_%d" % (owner, pid)] = {"data": up["data"]}
            return 200, {"response": [{"id": pid, "album_id": -14, "owner_id": int(owner), "text": "",
                                       "sizes": [{"type": "x", "width": 16, "height": 8,
                                                  "url": "http://%s/__photo/%s_%d" % (self.headers.get("Host"), owner, pid)}]}]}, None
        if path == "/method/photos.delete":
            self.token_faults(p)
            key = "photo%s_%s" % (p.get("owner_id"), p.get("photo_id"))
            with LOCK:
                gone = STATE["vk_photos"].pop(key, None)
            if not gone:
                raise vk_error(200, "Access denied: no such photo", p)
            return 200, {"response": 1}, None
        if path != "/method/wall.post":
            raise vk_error(3, "Unknown method passed", p)
        if "wallfail" in self.token_faults(p):
            raise vk_error(214, "Access to adding post denied", p)
        if not p.get("message") and not p.get("attachments"):
            raise vk_error(100, "One of the parameters specified was missing or invalid: message is empty", p)
        if p.get("attachments"):
            att = p["attachments"].split(",")
            links = [a for a in att if re.match(r"^https?://", a)]
            if len(att) > 10 or len(links) > 1:
                raise vk_error(100, "One of the parameters specified was missing or invalid: attachments", p)
            with LOCK:
                for a in att:
                    if a not in links and a not in STATE["vk_photos"]:
                        raise vk_error(100, "One of the parameters specified was missing or invalid: "
                                       "attachments: %s not found" % a, p)
        key = (p.get("owner_id"), p.get("guid"))
        with LOCK:
            first = STATE["guids"].get(key) if p.get("guid") else None
        if first is not None:
            self.note(deduplicated=True)  # the first post's id, nothing created
            return 200, {"response": {"post_id": first}}, None
        pid = next_id()
        with LOCK:
            first = STATE["guids"].get(key) if p.get("guid") else None  # the same guid sent twice at once
            if first is None:
                STATE["guids"][key] = pid
        if first is not None:
            self.note(deduplicated=True)
            return 200, {"response": {"post_id": first}}, None
        return 200, {"response": {"post_id": pid}}, None


Handler = VK
