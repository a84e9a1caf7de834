"""The raw-TCP client the bench scripts share: frames are a 4-byte big-endian length and a JSON
object (PROTOCOL.md "TCP"). Blocking sockets, loopback only."""
import json, socket, struct


def frame(obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(data)) + data


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pending = []  # parsed, not yet consumed

    def send(self, *objs):
        """Sends every object in one write (pipelined)."""
        self.s.sendall(b"".join(frame(o) for o in objs))

    def frames(self):
        """Takes the complete frames out of the receive buffer, parsed."""
        out = []
        while len(self.buf) >= 4:
            n = struct.unpack(">I", self.buf[:4])[0]
            if len(self.buf) < 4 + n:
                break
            out.append(json.loads(self.buf[4:4 + n]))
            self.buf = self.buf[4 + n:]
        return out

    def recv_until(self, pred):
        """The next frame for which pred is true; frames before it are dropped."""
        while True:
            self.pending.extend(self.frames())
            while self.pending:
                f = self.pending.pop(0)
                if pred(f):
                    return f
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk

    def recv(self):
        return self.recv_until(lambda f: True)

    def call(self, obj):
        """Sends one request and returns its reply (matched by id)."""
        self.send(obj)
        return self.recv_until(lambda f: f.get("id") == obj.get("id"))
