"""What the sandbox's networks share for media: a strict multipart/form-data
reader (RFC 7578, the fakes' own code: never the library's), the test media
the networks serve (GET /__media/<name>) and recognise byte for byte when they
come back as uploads, and a sniffer of a file's type by its first bytes."""
import hashlib, struct, zlib


def _png(w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + bytes((x * 40 + y * 7) & 0xFF for x in range(w * 3)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _jpeg(w, h, pad=0):
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00"
    # bytes a careless multipart writer would trip on: CR LF, "--", NUL
    body = b"\r\n--\x00\r\n\r\n" + bytes(range(256)) * 2
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof + body + b"\x00" * pad + b"\xff\xd9"


FIVE_MB = 5 * 1024 * 1024

# name -> (bytes, the Content-Type it is served with)
MEDIA = {
    "shot.png": (_png(3, 2), "image/png"),
    "shot.jpg": (_jpeg(640, 480), "image/jpeg"),
    "anim.gif": (b"GIF89a\x02\x00\x03\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\n\x00\x01\x00,"
                 b"\x00\x00\x00\x00\x02\x00\x03\x00\x00\x02\x02D\x01\x00;", "image/gif"),
    "clip.mp4": (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + bytes(range(256)),
                 "video/mp4"),
    "song.mp3": (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(range(256)) * 3, "audio/mpeg"),
    # a page that says it is a picture
    "page.png": (b"<!doctype html><html><body>not a picture</body></html>", "image/png"),
}
_LAZY = {"big.jpg": lambda: (_jpeg(4000, 3000, FIVE_MB), "image/jpeg")}  # over 5 MB


def medium(name):
    """(bytes, content type) of a test medium, or None."""
    if name not in MEDIA and name in _LAZY:
        MEDIA[name] = _LAZY[name]()
    return MEDIA.get(name)


def known(data):
    """The name of the test medium these bytes are exactly, or None."""
    for name in list(MEDIA) + list(_LAZY):
        m = medium(name)
        if m and len(m[0]) == len(data) and m[0] == data:
            return name
    return None


def sniff(data):
    """The type the first bytes say: image/jpeg, image/png, image/gif,
    image/webp, video/mp4, audio/mpeg, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and (data[1] & 0xE6) == 0xE2):
        return "audio/mpeg"
    return None


def digest(data):
    return hashlib.sha256(data).hexdigest()


class FormError(ValueError):
    pass


def _params(value):
    """'form-data; name="a"; filename="b"' -> ("form-data", {"name": "a", "filename": "b"})"""
    head, _, rest = value.partition(";")
    out = {}
    rest = rest.strip()
    while rest:
        k, eq, rest = rest.partition("=")
        if not eq:
            raise FormError("bad header parameter %r" % k)
        k = k.strip().lower()
        rest = rest.lstrip()
        if rest.startswith('"'):
            end = rest.find('"', 1)
            if end < 0:
                raise FormError("unterminated quoted value of %s" % k)
            v, rest = rest[1:end], rest[end + 1:]
        else:
            v, _, rest = rest.partition(";")
            v, rest = v.strip(), (";" + rest if rest else "")
        out[k] = v
        rest = rest.strip()
        if rest.startswith(";"):
            rest = rest[1:].strip()
        elif rest:
            raise FormError("junk after parameter %s" % k)
    return head.strip().lower(), out


def boundary_of(content_type):
    kind, p = _params(content_type or "")
    if kind != "multipart/form-data" or not p.get("boundary"):
        return None
    return p["boundary"]


def parse_multipart(content_type, raw):
    """The parts of a multipart/form-data body, in order: dicts with name,
    filename (None for a field), type (the part's Content-Type, None when
    absent), data (bytes). Strict: CRLF line ends, the opening and the closing
    delimiter exactly, each part's Content-Disposition form-data with a name,
    no duplicate names. Raises FormError."""
    b = boundary_of(content_type)
    if not b:
        raise FormError("Content-Type is not multipart/form-data with a boundary")
    delim = b"--" + b.encode("latin-1")
    if not raw.startswith(delim + b"\r\n"):
        raise FormError("the body does not open with the boundary")
    if not raw.endswith(b"\r\n" + delim + b"--\r\n"):
        raise FormError("the body does not close with the final boundary")
    inner = raw[len(delim) + 2:len(raw) - len(delim) - 6]
    parts, names = [], set()
    for chunk in inner.split(b"\r\n" + delim + b"\r\n"):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise FormError("a part has no blank line after its headers")
        headers = {}
        for line in head.split(b"\r\n"):
            k, colon, v = line.decode("utf-8").partition(":")
            if not colon:
                raise FormError("bad part header %r" % line)
            headers[k.strip().lower()] = v.strip()
        disp, p = _params(headers.get("content-disposition", ""))
        if disp != "form-data" or "name" not in p:
            raise FormError("a part without Content-Disposition: form-data; name=...")
        if p["name"] in names:
            raise FormError("duplicate part %s" % p["name"])
        names.add(p["name"])
        parts.append({"name": p["name"], "filename": p.get("filename"), "type": headers.get("content-type"),
                      "data": data})
    return parts
