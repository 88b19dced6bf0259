"""What the sandbox's networks share for media: a strict multipart/form-data
reader (RFC 7578, the fakes' own code: never the library's), the test media
the networks serve (GET /__media/<name>) and recognise byte for byte when they
come back as uploads, and a sniffer of a file's type by its first bytes."""
import hashlib, re, struct, zlib


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


def sniff(data, types=None):
    """The type the first bytes say: image/jpeg, image/png, image/gif,
    image/webp, video/mp4 (video/quicktime for the "qt  " brand), audio/mpeg,
    or None; None too when types is given and the type is not among them (a
    network that takes some of these only)."""
    t = None
    if data[:3] == b"\xff\xd8\xff":
        t = "image/jpeg"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        t = "image/png"
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        t = "image/gif"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        t = "image/webp"
    elif data[4:8] == b"ftyp":
        t = "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
    elif data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and (data[1] & 0xE6) == 0xE2):
        t = "audio/mpeg"
    return t if types is None or t in types else None


def serve(handler, name, not_found):
    """GET /__media/<name> on a fake's handler: the test medium with its type,
    else not_found() (the network's own 404)."""
    m = medium(name)
    if not m:
        return not_found()
    handler.send_response(200)
    handler.send_header("Content-Type", m[1])
    handler.send_header("Content-Length", str(len(m[0])))
    handler.end_headers()
    handler.wfile.write(m[0])
    return None


def digest(data):
    return hashlib.sha256(data).hexdigest()


class FormError(ValueError):
    pass


# what our reading takes, exactly as the RFCs write it (RFC 7578, RFC 2046
# bchars without the space): nothing else, no other spelling or spacing
_CONTENT_TYPE = re.compile(r"multipart/form-data; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})")
_DISPOSITION = re.compile(r'Content-Disposition: form-data; name="([^"\\\r\n]+)"(?:; filename="([^"\\\r\n]*)")?')
_PART_TYPE = re.compile(r"Content-Type: ([^\s;]+/[^\s;]+)")


def boundary_of(content_type):
    m = _CONTENT_TYPE.fullmatch(content_type or "")
    return m.group(1) if m else None


def parse_multipart(content_type, raw, unique=True):
    """The parts of a multipart/form-data body, in order: dicts with name,
    filename (None for a field), type (the part's Content-Type, None when
    absent), data (bytes). Strict: the Content-Type exactly
    "multipart/form-data; boundary=<1 to 70 bchars>"; CRLF line ends; the
    body opened by the delimiter and closed by the final one, nothing after;
    each part's headers "Content-Disposition: form-data; name="..."" (then
    "; filename="..."", no quote, backslash or line end in them), then at most
    one "Content-Type: type/subtype", nothing else, valid UTF-8; then the
    blank line. With unique, no two parts of one name. Raises FormError."""
    b = boundary_of(content_type)
    if not b:
        raise FormError("Content-Type is not multipart/form-data with a boundary: %r" % (content_type,))
    delim = b"--" + b.encode("ascii")
    opening, closing = delim + b"\r\n", b"\r\n" + delim + b"--\r\n"
    if not raw.startswith(opening):
        raise FormError("the body does not open with the boundary")
    if not raw.endswith(closing) or len(raw) < len(opening) + len(closing):
        raise FormError("the body does not close with the final boundary")
    parts, names = [], set()
    for chunk in raw[len(opening):len(raw) - len(closing)].split(b"\r\n" + delim + b"\r\n"):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise FormError("a part has no blank line after its headers")
        try:
            lines = head.decode("utf-8").split("\r\n")
        except UnicodeDecodeError:
            raise FormError("a part's headers are not UTF-8")
        cd = _DISPOSITION.fullmatch(lines[0])
        if not cd:
            raise FormError("a part does not open with Content-Disposition: form-data; name=...: %r" % lines[0])
        ctype = None
        for line in lines[1:]:
            t = _PART_TYPE.fullmatch(line)
            if not t or ctype is not None:
                raise FormError("unexpected part header %r" % line)
            ctype = t.group(1)
        if unique and cd.group(1) in names:
            raise FormError("duplicate part %s" % cd.group(1))
        names.add(cd.group(1))
        parts.append({"name": cd.group(1), "filename": cd.group(2), "type": ctype, "data": data})
    return parts
