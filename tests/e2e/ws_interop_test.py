#!/usr/bin/env python3
"""Interop with an independent, standard WebSocket client (python3-websockets) against the real
parleyd and parley-echo. Prints TAP, which meson counts test by test."""
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import traceback

import websockets

RESULTS = []


def start(binary, args):
    p = subprocess.Popen([binary] + args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    line_re = re.compile(rb"^listening (?:http|ws)=\S+:(\d+) tcp=\S+:(\d+)$")
    for _ in range(200):
        line = p.stderr.readline()
        if not line:
            break
        m = line_re.match(line.strip())
        if m:
            return p, int(m.group(1)), int(m.group(2))
    p.kill()
    raise RuntimeError("server did not start")


async def expect_closed(ws, code):
    try:
        await asyncio.wait_for(ws.recv(), 5)
    except websockets.exceptions.ConnectionClosed as e:
        assert e.rcvd is not None and e.rcvd.code == code, f"closed with {e.rcvd}, wanted {code}"
        return
    raise AssertionError("connection was not closed")


def parleyd_tests(port):
    uri = f"ws://127.0.0.1:{port}/ws"

    async def ping_pong():
        async with websockets.connect(uri) as ws:
            await ws.send(json.dumps({"op": "ping", "id": "py"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert reply == {"op": "pong", "id": "py"}, reply
            pong = await ws.ping(b"hello")
            await asyncio.wait_for(pong, 5)

    async def unauthorized_before_login():
        async with websockets.connect(uri) as ws:
            await ws.send(json.dumps({"op": "send", "id": 1, "to": "bob", "cid": "x", "body": "hi"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert reply["op"] == "error" and reply["code"] == "unauthorized", reply

    async def no_compression_negotiated():
        async with websockets.connect(uri) as ws:  # offers permessage-deflate by default
            assert ws.response_headers.get("Sec-WebSocket-Extensions") is None

    async def binary_is_1003():
        async with websockets.connect(uri) as ws:
            await ws.send(b"\x00\x01")
            await expect_closed(ws, 1003)

    async def too_big_is_1009():
        async with websockets.connect(uri, max_size=None) as ws:
            await ws.send("x" * 65537)
            await expect_closed(ws, 1009)

    async def clean_close():
        ws = await websockets.connect(uri)
        await ws.close(code=1000, reason="done")
        assert ws.close_code == 1000, ws.close_code

    return [ping_pong, unauthorized_before_login, no_compression_negotiated, binary_is_1003,
            too_big_is_1009, clean_close]


def echo_tests(port):
    uri = f"ws://127.0.0.1:{port}/"

    async def echo_text_and_binary():
        async with websockets.connect(uri, max_size=None) as ws:
            for msg in ["hello", "é😀", b"\x00\xff", "z" * 200000]:
                await ws.send(msg)
                back = await asyncio.wait_for(ws.recv(), 5)
                assert back == msg, (type(back), len(back))

    async def fragmented():
        async with websockets.connect(uri) as ws:
            await ws.send(iter(["frag", "ment", "ed"]))
            assert await asyncio.wait_for(ws.recv(), 5) == "fragmented"

    return [echo_text_and_binary, fragmented]


async def run_all(tests):
    for t in tests:
        try:
            await asyncio.wait_for(t(), 20)
            RESULTS.append((True, t.__name__, ""))
        except Exception:  # noqa: BLE001 - every failure is reported, not raised
            RESULTS.append((False, t.__name__, traceback.format_exc()))


def main():
    parleyd = os.environ.get("PARLEYD")
    echo = os.environ.get("PARLEY_ECHO")
    with tempfile.TemporaryDirectory() as data:
        p, http_port, _ = start(parleyd, ["--data-dir", data, "--http-port", "0", "--tcp-port", "0"])
        try:
            asyncio.run(run_all(parleyd_tests(http_port)))

            async def shutdown_is_1001():
                async with websockets.connect(f"ws://127.0.0.1:{http_port}/ws") as ws:
                    p.send_signal(signal.SIGTERM)
                    await expect_closed(ws, 1001)

            asyncio.run(run_all([shutdown_is_1001]))
            code = p.wait(timeout=6)
            RESULTS.append((code == 0, "parleyd_exits_0_on_sigterm", f"exit code {code}"))
        finally:
            if p.poll() is None:
                p.kill()
    e, ws_port, _ = start(echo, ["--port", "0", "--tcp-port", "0"])
    try:
        asyncio.run(run_all(echo_tests(ws_port)))
    finally:
        e.send_signal(signal.SIGTERM)
        e.wait(timeout=6)

    print(f"1..{len(RESULTS)}")
    for i, (ok, name, detail) in enumerate(RESULTS, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok:
            for line in detail.splitlines():
                print(f"# {line}")
    return 0 if all(ok for ok, _, _ in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
