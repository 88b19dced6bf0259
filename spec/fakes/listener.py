#!/usr/bin/env python3
"""A trap for the private-network guard tests: counts every TCP connection
made to its trap port (127.0.0.1 and, when the host has it, ::1 on the same
port) and answers nothing there. Bounded by --lifetime.

  listener.py --ready FILE [--lifetime 300]
  ready line: {"trap": P, "control": Q, "v6": true|false, "pid": N}
  control (127.0.0.1:Q): GET /__connections -> {"connections": n}
                         POST /__shutdown
"""
import argparse
import json
import os
import select
import socket
import sys
import time


def listen(family, host, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    s.listen(64)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()
    trap4 = listen(socket.AF_INET, "127.0.0.1", 0)
    port = trap4.getsockname()[1]
    traps = [trap4]
    try:
        traps.append(listen(socket.AF_INET6, "::1", port))
    except OSError:
        pass
    ctl = listen(socket.AF_INET, "127.0.0.1", 0)
    with open(a.ready + ".tmp", "w") as f:
        f.write(json.dumps({"trap": port, "control": ctl.getsockname()[1], "v6": len(traps) > 1,
                            "pid": os.getpid()}) + "\n")
    os.rename(a.ready + ".tmp", a.ready)
    count = 0
    deadline = time.time() + a.lifetime
    while time.time() < deadline:
        ready, _, _ = select.select(traps + [ctl], [], [], 0.2)
        for s in ready:
            conn, _ = s.accept()
            if s is not ctl:
                count += 1
                conn.close()
                continue
            conn.settimeout(2)
            try:
                req = conn.recv(65536).decode("latin-1")
                if req.startswith("POST /__shutdown"):
                    body = b"{}"
                else:
                    body = json.dumps({"connections": count}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                if req.startswith("POST /__shutdown"):
                    return 0
            except OSError:
                pass
            finally:
                conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
