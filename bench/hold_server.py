#!/usr/bin/env python3
"""Holding HTTP server for bench/async_memory.lua: on 127.0.0.1, reads each
request whole, counts it (the count written to COUNT_FILE), and answers it
only when RELEASE_FILE exists (or after --hold seconds), so that every
call of the benchmark is in flight at once. One asyncio loop, a backlog of
16384: 10,000 connections at once.

  hold_server.py --ready FILE --count FILE --release FILE [--hold 60] [--lifetime 120]
"""
import argparse, asyncio, json, os, sys, time

BODY = b'{"errorCode":0,"statusCode":200,"statusReason":"OK","callId":"hold"}'
REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready", required=True)
    ap.add_argument("--count", required=True)
    ap.add_argument("--release", required=True)
    ap.add_argument("--hold", type=float, default=60)
    ap.add_argument("--lifetime", type=float, default=120)
    a = ap.parse_args()
    state = {"n": 0, "written": -1}
    start = time.time()

    async def released():
        t0 = time.time()
        while not os.path.exists(a.release) and time.time() - t0 < a.hold:
            await asyncio.sleep(0.05)

    async def handle(r, w):
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = min(int(line.split(b":", 1)[1]), 1 << 20)
                if n:
                    await r.readexactly(n)
                state["n"] += 1
                await released()
                w.write(REPLY)
                await w.drain()
        except Exception:
            pass
        finally:
            w.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=16384)
    port = srv.sockets[0].getsockname()[1]
    with open(a.ready + ".tmp", "w") as f:
        f.write(json.dumps({"http": port, "pid": os.getpid()}) + "\n")
    os.rename(a.ready + ".tmp", a.ready)
    while time.time() - start < a.lifetime:
        if state["n"] != state["written"]:
            with open(a.count + ".tmp", "w") as f:
                f.write("%d\n" % state["n"])
            os.rename(a.count + ".tmp", a.count)
            state["written"] = state["n"]
        await asyncio.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
