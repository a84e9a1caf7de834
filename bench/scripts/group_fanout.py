#!/usr/bin/python3
"""Measures one message to a big group (see docs/BENCHMARKS.md). Loopback only.

usage: group_fanout.py TCP_PORT [MEMBERS] [ONLINE] [MESSAGES] [SERVER_PID]
Registers MEMBERS users, puts them all in one group, logs ONLINE of them in (one TCP connection
each), then sends MESSAGES messages to the group one at a time and reports, per message, the
send->ok time and the time until every online member has it.
"""
import os, selectors, sys, time

from parley_tcp import Conn

def main():
    port = int(sys.argv[1])
    members = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    online = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    messages = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    pid = int(sys.argv[5]) if len(sys.argv) > 5 else 0

    def server_cpu():  # seconds of CPU the server has used (utime + stime)
        if not pid:
            return 0.0
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    names = [f"gm{i}" for i in range(members)]
    t0 = time.time()
    for i in range(0, members, 500):
        setup = Conn(port)  # a fresh connection per chunk: anonymous ones face login_timeout
        chunk = names[i:i + 500]
        setup.send(*({"id": k, "op": "register", "user": n, "password": "secret1"} for k, n in enumerate(chunk)))
        for _ in chunk:
            setup.recv_until(lambda f: f.get("op") in ("ok", "error"))
    print(f"registered {members} users in {time.time() - t0:.1f} s")
    owner = Conn(port)
    owner.send({"id": 1, "op": "login", "user": names[0], "password": "secret1"})
    owner.recv_until(lambda f: f.get("id") == 1)
    owner.send({"id": 2, "op": "group_create", "group": "big", "members": names[1:1000]})
    r = owner.recv_until(lambda f: f.get("id") == 2)
    assert r["op"] == "ok", r
    for i in range(1000, members, 1000):
        owner.send({"id": 3, "op": "group_add", "group": "big", "members": names[i:i + 1000]})
        r = owner.recv_until(lambda f: f.get("id") == 3)
        assert r["op"] == "ok", r
    sel = selectors.DefaultSelector()
    conns = []
    for n in names[1:online + 1]:
        c = Conn(port)
        c.send({"id": 1, "op": "login", "user": n, "password": "secret1"})
        conns.append(c)
    for i, c in enumerate(conns):
        c.idx = i
        c.recv_until(lambda f: f.get("id") == 1)
        c.s.setblocking(False)
        sel.register(c.s, selectors.EVENT_READ, c)
    # Drain the join backlog every member gets at login.
    time.sleep(1.0)
    for key, _ in sel.select(timeout=0.5):
        pass
    for c in conns:
        try:
            while True:
                chunk = c.s.recv(1 << 20)
                if not chunk:
                    break
                c.buf += chunk
        except BlockingIOError:
            pass
        c.frames()
    print(f"group of {members}, {online} members online")
    cpu0 = server_cpu()
    for m in range(messages):
        body = f"fan-out {m}"
        start = time.time()
        owner.send({"id": 100 + m, "op": "send", "group": "big", "cid": f"fo{m}", "body": body})
        ok = owner.recv_until(lambda f: f.get("id") == 100 + m)
        t_ok = time.time() - start
        waiting = set(range(len(conns)))
        while waiting:
            for key, _ in sel.select(timeout=5):
                c = key.data
                try:
                    c.buf += c.s.recv(1 << 20)
                except BlockingIOError:
                    continue
                for f in c.frames():
                    if f.get("op") == "msg" and f.get("body") == body:
                        waiting.discard(c.idx)
        t_all = time.time() - start
        if m < 5 or m == messages - 1:
            print(f"message {m}: seq {ok.get('seq')}, send->ok {t_ok * 1000:.2f} ms, "
                  f"all {online} online members have it after {t_all * 1000:.2f} ms")
    if pid:
        per = (server_cpu() - cpu0) / messages
        print(f"server CPU per group message (all shards): {per * 1e3:.2f} ms")

main()
