"""Bluesky: createSession, createRecord with facets' byte offsets checked;
uploadBlob (raw bytes, the type checked against the bytes, at most
1,000,000 bytes: BlobTooLarge) answering a blob ref whose $link is the CID of
the bytes (CIDv1, raw codec, sha2-256, base32), and the record's embed checked
against the lexicons (app.bsky.embed.images, app.bsky.embed.external) and the
blobs this session uploaded. sync.getBlob answers an uploaded blob's bytes.
server.refreshSession rotates: the refresh JWT (the bearer, no body) is single
use; a reused one is refused (400 ExpiredToken, counted in
bsky_refresh_reused) and revokes nothing else;
the control port answers the createSession/refreshSession counts (GET /).
Faults: an identifier containing "uploadfail" -> 502 on uploadBlob;
config {"fail_bluesky_refresh": true} -> the next refreshSession answers 502
(before rotating: the refresh JWT stays good)."""
import base64, hashlib, hmac, json, re, time, uuid
from email.utils import formatdate
from urllib.parse import quote

import media_kit
from sandbox_core import LOCK, STATE, Base, Reply, enc, next_id, now as sandbox_now

NETWORK = "bluesky"
CONF = {"password": "app-pass-1234"}
STATE_DEFAULTS = {"sessions": {}, "session_count": 0, "expire_bluesky": False, "bsky_idents": {},
                  "bsky_blobs": {}, "bsky_refresh": {}, "bsky_refresh_used": {}, "bsky_refresh_count": 0,
                  "bsky_refresh_reused": 0, "fail_bluesky_refresh": False, "bsky_posts": []}
MAX_BLOB = 1000000


def cid_of(data):
    """CIDv1 of raw bytes: <version 1><codec raw 0x55><sha2-256 0x12><32> + digest, multibase base32 ("b")."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def sniff(data):
    """The image type of the bytes by their magic numbers (media_kit's reading), or None."""
    return media_kit.sniff(data, IMAGE_TYPES)


def bad(msg):
    return Reply(400, {"error": "InvalidRequest", "message": msg})


def check_blob(b, did, where):
    """A blob ref as the lexicon says ({$type: blob, ref: {$link}, mimeType, size}) naming a blob this account uploaded."""
    if not isinstance(b, dict) or b.get("$type") != "blob" or set(b) != {"$type", "ref", "mimeType", "size"}:
        raise bad("%s: not a blob ref" % where)
    ref = b["ref"]
    if not isinstance(ref, dict) or set(ref) != {"$link"} or not isinstance(ref["$link"], str):
        raise bad("%s: ref is not {$link}" % where)
    with LOCK:
        have = STATE["bsky_blobs"].get(ref["$link"])
    if not have or have["did"] != did:
        raise bad("Could not find blob: %s" % ref["$link"])
    if b["mimeType"] != have["mimeType"] or b["size"] != len(have["data"]) or type(b["size"]) is not int:
        raise bad("%s: mimeType/size do not match the uploaded blob" % where)
    if not b["mimeType"].startswith("image/"):
        raise bad("%s: not an image" % where)


def check_embed(e, did):
    """app.bsky.embed.images / app.bsky.embed.external, checked by our own reading of the lexicons."""
    if not isinstance(e, dict):
        raise bad("Record/embed must be an object")
    t = e.get("$type")
    if t == "app.bsky.embed.images":
        imgs = e.get("images")
        if set(e) != {"$type", "images"} or not isinstance(imgs, list) or not 1 <= len(imgs) <= 4:
            raise bad("Record/embed/images must be an array of 1 to 4 images")
        for i, im in enumerate(imgs):
            w = "Record/embed/images/%d" % i
            if not isinstance(im, dict) or not set(im) <= {"image", "alt", "aspectRatio"}:
                raise bad(w + " has unknown properties")
            if not isinstance(im.get("alt"), str):
                raise bad(w + ' must have the property "alt"')
            check_blob(im.get("image"), did, w + "/image")
            if "aspectRatio" in im:
                ar = im["aspectRatio"]
                if (not isinstance(ar, dict) or set(ar) != {"width", "height"} or
                        not all(type(ar[k]) is int and ar[k] >= 1 for k in ar)):
                    raise bad(w + "/aspectRatio must be {width, height} integers >= 1")
    elif t == "app.bsky.embed.external":
        ext = e.get("external")
        if set(e) != {"$type", "external"} or not isinstance(ext, dict):
            raise bad("Record/embed/external must be an object")
        if not set(ext) <= {"uri", "title", "description", "thumb"} or not all(
                isinstance(ext.get(k), str) for k in ("uri", "title", "description")):
            raise bad("Record/embed/external needs uri, title and description strings")
        if not re.match(r"^https?://", ext["uri"]):
            raise bad("Record/embed/external/uri must be a URI")
        if "thumb" in ext:
            check_blob(ext["thumb"], did, "Record/embed/external/thumb")
    else:
        raise bad("Record/embed has an unknown $type %r" % t)


class Bluesky(Base):
    network = "bluesky"

    def session(self):
        """The account of the bearer token, or the XRPC auth error."""
        tok = self.bearer() or ""
        with LOCK:
            did = STATE["sessions"].get(tok)
            expired = STATE.get("expire_bluesky")
            ident = STATE["bsky_idents"].get(tok, "")
        if not did:
            raise Reply(400 if tok else 401, {"error": "InvalidToken" if tok else "AuthenticationRequired",
                                              "message": "Bad token"})
        if expired:
            with LOCK:
                STATE["sessions"].pop(tok, None)
                STATE["expire_bluesky"] = False
            raise Reply(400, {"error": "ExpiredToken", "message": "Token has expired"})
        return did, ident

    def list_records(self, q):
        """com.atproto.repo.listRecords (public: no auth): a repo's records of
        one collection, newest first, limit 1-100 (default 50)."""
        repo, coll, n = q.get("repo", ""), q.get("collection", ""), q.get("limit", "50")
        if not repo.startswith("did:") or not coll or not n.isdigit() or not 1 <= int(n) <= 100:
            raise Reply(400, {"error": "InvalidRequest", "message": "repo, collection and limit (1-100) expected"})
        with LOCK:
            recs = [dict(r) for r in reversed(STATE["bsky_posts"]) if r["did"] == repo and coll == "app.bsky.feed.post"]
        return 200, {"records": [{"uri": r["uri"], "cid": r["cid"], "value": r["value"]} for r in recs[:int(n)]],
                     "cursor": "3k"}, None

    def route(self, method, path, q, raw):
        if method == "GET" and path == "/xrpc/com.atproto.sync.getBlob":
            with LOCK:
                b = STATE["bsky_blobs"].get(q.get("cid", ""))
            if not b or b["did"] != q.get("did"):
                raise Reply(400, {"error": "BlobNotFound", "message": "Blob not found"})
            return 200, b["data"], {"Content-Type": b["mimeType"]}
        if path == "/xrpc/com.atproto.repo.uploadBlob":
            did, ident = self.session()
            if method != "POST":
                raise bad("uploadBlob is a POST")
            if "uploadfail" in ident:
                raise Reply(502, {"error": "InternalServerError", "message": "Internal Server Error"})
            ct = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if len(raw) > MAX_BLOB:
                raise Reply(400, {"error": "BlobTooLarge", "message": "This file is too large. It is %d bytes but "
                                  "the maximum size is %d bytes." % (len(raw), MAX_BLOB)})
            if not raw:
                raise bad("uploadBlob: empty body")
            if sniff(raw) is None or sniff(raw) != ct:
                raise bad("uploadBlob: Content-Type %r does not match the bytes (%s)" % (ct, sniff(raw)))
            cid = cid_of(raw)
            with LOCK:
                STATE["bsky_blobs"][cid] = {"did": did, "mimeType": ct, "data": raw}
            return 200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": ct, "size": len(raw)}}, None
        if path == "/xrpc/com.atproto.server.refreshSession":
            if method != "POST":
                raise bad("refreshSession is a POST")
            if raw:
                raise bad("refreshSession takes no body")
            tok = self.bearer() or ""
            with LOCK:
                if STATE.get("fail_bluesky_refresh"):
                    STATE["fail_bluesky_refresh"] = False
                    raise Reply(502, {"error": "InternalServerError", "message": "Internal Server Error"})
                if tok in STATE["bsky_refresh_used"]:
                    STATE["bsky_refresh_reused"] += 1
                    raise Reply(400, {"error": "ExpiredToken", "message": "Token has been revoked"})
                ent = STATE["bsky_refresh"].pop(tok, None)
                if ent is None:
                    raise Reply(400 if tok else 401, {"error": "InvalidToken" if tok else "AuthenticationRequired",
                                                      "message": "Token could not be verified"})
                STATE["bsky_refresh_used"][tok] = True
            did, ident = ent
            jwt, ref = "acc-" + uuid.uuid4().hex, "ref-" + uuid.uuid4().hex
            with LOCK:
                STATE["sessions"][jwt] = did
                STATE["bsky_idents"][jwt] = ident
                STATE["bsky_refresh"][ref] = (did, ident)
                STATE["bsky_refresh_count"] += 1
            return 200, {"accessJwt": jwt, "refreshJwt": ref, "did": did, "handle": ident}, None
        body = self.json_body(raw) if raw else {}
        if path == "/xrpc/com.atproto.server.createSession":
            ident = body.get("identifier", "")
            if "ratelimit" in ident:
                raise Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                            {"RateLimit-Limit": "30", "RateLimit-Remaining": "0",
                             "RateLimit-Reset": str(int(sandbox_now()) + 300), "RateLimit-Policy": "30;w=300"})
            if body.get("password") != CONF["password"]:
                raise Reply(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
            jwt, ref = "acc-" + uuid.uuid4().hex, "ref-" + uuid.uuid4().hex
            did = "did:plc:" + hashlib.sha1(ident.encode()).hexdigest()[:24]
            with LOCK:
                STATE["sessions"][jwt] = did
                STATE["bsky_idents"][jwt] = ident
                STATE["bsky_refresh"][ref] = (did, ident)
                STATE["session_count"] += 1
            return 200, {"accessJwt": jwt, "refreshJwt": ref, "did": did, "handle": ident}, None
        if path == "/xrpc/com.atproto.repo.listRecords" and method == "GET":
            return self.list_records(q)
        if path == "/xrpc/com.atproto.repo.createRecord":
            did, _ = self.session()
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
            if "embed" in rec:
                check_embed(rec["embed"], did)
            rkey = "3k" + uuid.uuid4().hex[:11]
            uri, cid = "at://%s/app.bsky.feed.post/%s" % (did, rkey), "bafyrei" + uuid.uuid4().hex
            with LOCK:  # the repo's records, for listRecords
                STATE["bsky_posts"].append({"did": did, "uri": uri, "cid": cid, "value": rec})
            self.note(post_uri=uri)
            return 200, {"uri": uri, "cid": cid}, None
        raise Reply(404, {"error": "MethodNotImplemented", "message": path})


Handler = Bluesky
