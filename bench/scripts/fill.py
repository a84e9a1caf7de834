#!/usr/bin/python3
"""Fills a running parleyd with messages over raw TCP, pipelined, to measure restart time with a
big store (see docs/BENCHMARKS.md). Loopback only.

usage: fill.py TCP_PORT MESSAGES [PAIRS] [WINDOW]
Registers PAIRS pairs of users (fill_a<i>, fill_b<i>), logs the senders in, and sends MESSAGES
1:1 messages spread over the pairs, keeping at most WINDOW requests in flight per connection.
Prints messages/s as the server acknowledged them.
"""
import sys, time

from parley_tcp import Conn

def main():
    port, total = int(sys.argv[1]), int(sys.argv[2])
    pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 256
    setup = Conn(port)
    for i in range(pairs):
        for who in ("a", "b"):
            setup.call({"id": 1, "op": "register", "user": f"fill_{who}{i}", "password": "secret1"})
    senders = []
    for i in range(pairs):
        c = Conn(port)
        r = c.call({"id": 1, "op": "login", "user": f"fill_a{i}", "password": "secret1"})
        assert r["op"] == "ok", r
        senders.append(c)
    per = total // pairs
    start = time.time()
    body = "x" * 100
    for i, c in enumerate(senders):
        c.sent = c.acked = 0
    done = 0
    while done < per * pairs:
        for i, c in enumerate(senders):
            room = min(window - (c.sent - c.acked), per - c.sent)
            if room > 0:
                c.send(*({"op": "send", "to": f"fill_b{i}", "cid": f"f{c.sent + k}", "body": body}
                         for k in range(room)))
                c.sent += room
            while c.acked < c.sent:
                r = c.recv()
                if r.get("op") == "ok":
                    c.acked += 1
                    done += 1
                elif r.get("op") == "error":
                    raise SystemExit(f"error: {r}")
                if c.sent - c.acked < window // 2:
                    break
    took = time.time() - start
    print(f"{done} messages in {took:.1f} s: {done / took:.0f} messages/s acknowledged")

main()
