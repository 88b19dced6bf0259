"""Facebook Graph API: Page feed posts and passthrough; appsecret_proof checked.

Photos (docs/media.md): POST /{page-id}/photos by `url` or by a multipart
`source` (the body is parsed here, strictly: CRLF framing, the boundary of
the Content-Type, each part's Content-Disposition, the final delimiter; the
bytes must be an image by their magic numbers, at most 4 MB), published or
not (`published=false`); POST /{page-id}/feed with attached_media[i] =
{"media_fbid": id}: each id an unpublished, unattached photo of that Page,
the indexes 0..n-1 without a gap, and no `link` beside them; DELETE
/{photo-id}. GET /__photos answers what was stored (tests). Scenarios:
token "mediafail": the photo upload answers 500; "postfail": a feed post
with attached_media answers 500 (the photos stay, to be deleted).

Facebook Login: GET /me/permissions ({data: [{permission, status}]}, the
permission named by fb_declined answered "declined"); /me/accounts in
chunks of fb_page_chunk with paging.next on /{user-id}/accounts and an
`after` cursor (fb_paging: "otherhost" names another host in next, "loop"
answers the same cursor again, "endless" never ends)."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

import media_kit
import oauth_server
from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id, now as sandbox_now

NETWORK = "facebook"
CONF = {"appSecret": "fb-app-secret", "max_photo": 4 * 1024 * 1024}
STATE_DEFAULTS = {"fb_posts": [], "fb_photos": {}, "fb_pages_n": 2, "fb_long": {}, "fb_page_tokens": {}, "fb_revoked_users": 0,
                  "fb_declined": None, "fb_page_chunk": 25, "fb_paging": None}
STATE_DEFAULTS.update(oauth_server.defaults(NETWORK))
# Facebook Login, manual flow (developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow):
# the code grant at /oauth/access_token (client_id and client_secret in the
# form, no PKCE, no refresh token), then fb_exchange_token for a 60-day user
# token, /me, /me/accounts (Page tokens), DELETE /me/permissions.
VERSION = "v26.0"
OAUTH = {"authorize": "/%s/dialog/oauth" % VERSION, "token": "/%s/oauth/access_token" % VERSION,
         "identity": "/__none", "client_id": "fb-app-id", "client_secret": "fb-app-secret",
         "basic": False, "pkce": False, "rotating": False, "refresh_scope": "-never-", "prefix": "fb",
         "scopes": {"pages_show_list", "pages_manage_posts", "pages_read_engagement", "public_profile"},
         "user": "10001", "identity_reply": {},
         "unauthorized": {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}}
PAGES = [("1647395831", "Sandbox Page One"), ("2750001234", "Sandbox Page Two"), ("3860005678", "Sandbox Page Three")]
LONG_TTL = 60 * 86400

def image_type(data):
    return media_kit.sniff(data, ("image/jpeg", "image/png", "image/gif", "image/webp"))


def multipart(content_type, raw):
    """media_kit's strict multipart/form-data reader: {name: (value bytes, filename, type)}."""
    try:
        parts = media_kit.parse_multipart(content_type, raw)
    except media_kit.FormError as e:
        raise fb_error(400, 100, "(#100) Malformed multipart body: %s" % e)
    return {p["name"]: (p["data"], p["filename"], p["type"]) for p in parts}


def fb_error(status, code, message, subcode=None, headers=None):
    e = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A" + uuid.uuid4().hex[:10]}
    if subcode:
        e["error_subcode"] = subcode
    return Reply(status, {"error": e}, headers)


class Facebook(Base):
    network = "facebook"

    OAUTH = OAUTH

    def fb_user(self, token):
        """A live long-lived user token issued here: its user, else Graph's 190."""
        with LOCK:
            rec = STATE["fb_long"].get(token)
            ok = rec and rec["live"] and rec["exp"] > sandbox_now()
        if not ok:
            raise fb_error(400, 190, "Error validating access token: The session is invalid.", 460)
        return rec["user"]

    def login(self, method, path, q, raw):
        """The Facebook Login routes: a reply, or None when the path is not one."""
        if path == OAUTH["token"] and method in ("GET", "POST"):
            form = dict(q) if method == "GET" else self.form(raw)
            if method == "GET" and form.get("grant_type") != "fb_exchange_token":
                raise fb_error(400, 100, "Unsupported grant_type on GET here")
            if form.get("grant_type") == "fb_exchange_token":  # a GET, as Facebook documents it
                if form.get("client_id") != OAUTH["client_id"] or form.get("client_secret") != OAUTH["client_secret"]:
                    raise fb_error(400, 101, "Error validating application. Invalid application ID.")
                short = form.get("fb_exchange_token") or ""
                with LOCK:
                    rec = STATE["oauth_facebook"]["access"].get(short)
                    if not rec or not rec["live"] or rec["exp"] <= sandbox_now():
                        raise fb_error(400, 190, "Error validating access token: The session is invalid.", 460)
                    lt = "fbll-" + uuid.uuid4().hex
                    STATE["fb_long"][lt] = {"user": rec["user"], "exp": sandbox_now() + LONG_TTL, "live": True}
                return 200, {"access_token": lt, "token_type": "bearer", "expires_in": LONG_TTL}, None
            return oauth_server.handle(self, method, path, q, raw)
        if path == OAUTH["authorize"]:
            return oauth_server.handle(self, method, path, q, raw)
        if path not in ("/%s/me" % VERSION, "/%s/me/accounts" % VERSION, "/%s/me/permissions" % VERSION) \
                and not re.match(r"^/%s/\d+/accounts$" % VERSION, path):
            return None
        token = q.get("access_token") or ""
        if not token.startswith("fbll-"):
            return None  # a page token: the Graph routes below
        want = hmac.new(CONF["appSecret"].encode(), token.encode(), hashlib.sha256).hexdigest()
        if q.get("appsecret_proof") != want:
            raise fb_error(400, 100, "Invalid appsecret_proof provided in the API argument")
        user = self.fb_user(token)
        if path.endswith("/me") and method == "GET":
            if q.get("fields") != "id,name":
                raise fb_error(400, 100, "fields must be id,name here")
            return 200, {"id": user, "name": "Sandbox FB User"}, None
        if path.endswith("/accounts") and method == "GET":
            if q.get("fields") != "id,name,access_token":
                raise fb_error(400, 100, "fields must be id,name,access_token here")
            after = q.get("after")
            if after is not None and not re.match(r"^c\d{1,6}$", after):
                raise fb_error(400, 100, "Invalid after cursor")
            data = []
            with LOCK:
                n, chunk, mode = int(STATE.get("fb_pages_n") or 0), int(STATE["fb_page_chunk"]), STATE["fb_paging"]
                if mode == "endless":
                    n = 10 ** 6
                start = int(after[1:]) if after else 0
                if mode == "loop":
                    start = 0
                for i in range(start, min(n, start + chunk)):
                    pid, name = PAGES[i] if i < len(PAGES) else ("9%09d" % i, "Sandbox Page %d" % (i + 1))
                    pt = "fbpt-" + pid + "-" + uuid.uuid4().hex
                    STATE["fb_page_tokens"][pt] = {"page": pid, "user": user, "live": True}
                    data.append({"id": pid, "name": name, "access_token": pt, "category": "Game",
                                 "tasks": ["CREATE_CONTENT", "MANAGE"]})
            paging = {"cursors": {"before": "c%d" % start, "after": "c%d" % (start + len(data))}}
            if start + len(data) < n and data:
                host = "evil.example" if mode == "otherhost" else self.headers.get("Host")
                paging["next"] = "http://%s/%s/%s/accounts?access_token=%s&fields=id%%2Cname%%2Caccess_token" \
                    "&limit=%d&after=%s" % (host, VERSION, user, token, chunk, paging["cursors"]["after"])
            return 200, {"data": data, "paging": paging}, None
        if path.endswith("/permissions") and method == "GET":
            declined = STATE.get("fb_declined")
            data = [{"permission": p, "status": "declined" if p == declined else "granted"}
                    for p in sorted(OAUTH["scopes"])]
            return 200, {"data": data}, None
        if path.endswith("/permissions") and method == "DELETE":
            with LOCK:  # the app's grant is gone: every token of this user dies
                for t in (STATE["fb_long"], STATE["fb_page_tokens"]):
                    for rec in t.values():
                        if rec["user"] == user:
                            rec["live"] = False
                STATE["fb_revoked_users"] += 1
            return 200, {"success": True}, None
        raise fb_error(400, 100, "Unsupported %s request" % method)

    def route(self, method, path, q, raw):
        r = self.login(method, path, dict(q), raw)
        if r is not None:
            return r
        if method == "GET" and path == "/__photos":
            with LOCK:
                return 200, json.loads(json.dumps(STATE["fb_photos"])), None
        p = dict(q)
        files = {}
        if method == "POST" and (self.headers.get("Content-Type") or "").startswith("multipart/"):
            for k, (v, fname, ctype) in multipart(self.headers.get("Content-Type"), raw).items():
                if fname is None:
                    p[k] = v.decode("utf-8")
                else:
                    files[k] = (v, fname, ctype)
        elif method == "POST":
            p.update(self.form(raw))
        token = p.get("access_token")
        if not token:
            raise fb_error(400, 2500, "An active access token must be used to query information about the current user.")
        want = hmac.new(CONF["appSecret"].encode(), token.encode(), hashlib.sha256).hexdigest()
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
        if token.startswith("fbpt-"):  # a Page token issued by /me/accounts: live, for that Page
            with LOCK:
                rec = STATE["fb_page_tokens"].get(token)
            parts0 = path.strip("/").split("/")
            if not rec or not rec["live"] or len(parts0) < 2 or parts0[1] != rec["page"]:
                raise fb_error(400, 190, "Error validating access token: The session is invalid.", 460)
        if "boom" in token:
            raise Reply(500, {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}})
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[2] == "photos" and method == "POST":
            return self.photo(parts[1], p, files, token)
        if len(parts) == 2 and method == "DELETE":
            with LOCK:
                if STATE["fb_photos"].pop(parts[1], None) is None:
                    raise fb_error(400, 100, "(#100) Unsupported delete request: object %s does not exist" % parts[1])
            return 200, {"success": True}, None
        if len(parts) == 3 and parts[2] == "posts" and method == "GET":
            return self.page_posts(parts[1], p)
        if len(parts) == 3 and parts[2] == "feed" and method == "POST":
            attached = self.attached(parts[1], p, token)
            if not p.get("message") and not p.get("link") and not attached:
                raise fb_error(400, 100, "(#100) Missing message or attachment")
            post = "%s_%d" % (parts[1], next_id())
            with LOCK:
                for pid in attached:
                    STATE["fb_photos"][pid]["attached_to"] = post
                STATE["fb_posts"].append({"page": parts[1], "id": post, "message": p.get("message"),
                                          "created_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000",
                                                                        time.gmtime(sandbox_now()))})
            self.note(post_id=post)
            return 200, {"id": post}, None
        return 200, {"id": str(next_id()), "path": "/" + "/".join(parts[1:]), "method": method,
                     "params": {k: v for k, v in p.items() if k not in ("access_token", "appsecret_proof")}}, None

    def page_posts(self, page, p):
        """GET /{page-id}/posts: the Page's own posts, newest first, only the
        fields asked (id always; a post without text has no message)."""
        fields = [f for f in p.get("fields", "id").split(",") if f]
        n = p.get("limit", "25")
        if not page.isdigit() or not n.isdigit() or not 1 <= int(n) <= 100:
            raise fb_error(400, 100, "(#100) Invalid page id or limit")
        if set(fields) - {"id", "message", "created_time"}:
            raise fb_error(400, 100, "(#100) Tried accessing nonexisting field")
        with LOCK:
            mine = [dict(x) for x in reversed(STATE["fb_posts"]) if x["page"] == page][:int(n)]
        data = [{f: x[f] for f in set(fields) | {"id"} if x.get(f) is not None} for x in mine]
        return 200, {"data": data, "paging": {"cursors": {"before": "b", "after": "a"}}}, None

    def photo(self, page, p, files, token):
        if not page.isdigit():
            raise fb_error(400, 100, "(#100) Invalid page id")
        if "mediafail" in token:
            raise Reply(500, {"error": {"message": "An unexpected error has occurred. Please retry your request later.",
                                        "type": "OAuthException", "code": 2, "is_transient": True}})
        url, src = p.get("url"), files.get("source")
        if (url is None) == (src is None):
            raise fb_error(400, 324, "(#324) Requires upload file: give exactly one of url or source")
        if set(files) - {"source"}:
            raise fb_error(400, 100, "(#100) Unexpected file part(s): " + ",".join(sorted(files)))
        if p.get("published", "true") not in ("true", "false"):
            raise fb_error(400, 100, "(#100) Param published must be a boolean")
        rec = {"page": page, "published": p.get("published", "true") == "true", "alt": p.get("alt_text_custom"),
               "caption": p.get("caption", p.get("message")), "attached_to": None}
        if url is not None:
            if not re.match(r"https?://[^\s/]+/", url):
                raise fb_error(400, 100, "(#100) Param url must be a valid URL")
            rec["url"] = url
        else:
            data, fname, ctype = src
            kind = image_type(data)
            if not kind:
                raise fb_error(400, 324, "(#324) Missing or invalid image file")
            if len(data) > CONF["max_photo"]:
                raise fb_error(400, 100, "(#100) The photo is larger than %d bytes" % CONF["max_photo"])
            rec.update({"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "filename": fname,
                        "contentType": ctype, "sniffed": kind})
        pid = str(next_id())
        with LOCK:
            STATE["fb_photos"][pid] = rec
        if rec["published"]:
            return 200, {"id": pid, "post_id": "%s_%s" % (page, pid)}, None
        return 200, {"id": pid}, None

    def attached(self, page, p, token):
        """attached_media[0..n-1]: unpublished, unattached photos of this Page."""
        keys = [k for k in p if k.startswith("attached_media")]
        ids = []
        for i in range(len(keys)):
            v = p.get("attached_media[%d]" % i)
            if v is None:
                raise fb_error(400, 100, "(#100) attached_media indexes must run from 0 without a gap")
            try:
                o = json.loads(v)
            except ValueError:
                raise fb_error(400, 100, "(#100) attached_media[%d] is not JSON" % i)
            if not isinstance(o, dict) or set(o) != {"media_fbid"} or not isinstance(o["media_fbid"], str):
                raise fb_error(400, 100, "(#100) attached_media[%d] must be {\"media_fbid\": \"<id>\"}" % i)
            ids.append(o["media_fbid"])
        if ids and p.get("link"):
            raise fb_error(400, 100, "(#100) A post with attached_media cannot have a link")
        if ids and "postfail" in token:
            raise Reply(500, {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}})
        with LOCK:
            for i, pid in enumerate(ids):
                ph = STATE["fb_photos"].get(pid)
                if not ph or ph["page"] != page or ph["published"] or ph["attached_to"] or ids.count(pid) > 1:
                    raise fb_error(400, 100, "(#100) param attached_media[%d] has an invalid media_fbid" % i)
        return ids


Handler = Facebook
