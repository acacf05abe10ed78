#!/usr/bin/env python3
# Writes the seed inputs of the vhost_user fuzz target (format: tests/libfuzzer/vhost_user_fuzz.c) into
# tests/libfuzzer/corpus/vhost_user/: what QEMU sends to set up a port and a frame on the TX ring, for
# one pair and for two, so the fuzzer starts from a running device instead of guessing a handshake.
# usage: python3 tests/libfuzzer/vhost_user_seeds.py
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "vhost_user")
V, NEED_REPLY = 1, 1 << 3
UVA = 0x7F0000000000                 # where "the frontend" mapped guest memory
EVENTFD, MEMFD = 0, 1


def piece(req, payload=b"", fds=0, kind=EVENTFD, flags=V, split=False):
    msg = struct.pack("<III", req, flags, len(payload)) + payload
    t = (fds & 0x0F) | (kind << 4) | (0x40 if split else 0)
    return bytes([t]) + struct.pack("<H", len(msg)) + msg


def memory(off, data):
    out = b""
    for at in range(0, len(data), 255):
        chunk = data[at:at + 255]
        out += bytes([0x80]) + struct.pack("<H", (off + at) // 8) + bytes([len(chunk)]) + chunk
    return out


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def ring_layout(i):
    base = 0x8000 * i                # desc, avail, used of ring i, 256 entries
    return base, base + 0x1000, base + 0x2000


def setup(pairs):
    s = piece(1) + piece(15) + piece(16, u64(0x9)) + piece(17)
    s += piece(2, u64(1 << 32 | 1 << 30), flags=V | NEED_REPLY) + piece(3)
    mem = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 256 * 1024, UVA, 0)
    s += piece(5, mem, fds=1, kind=MEMFD)
    for i in range(2 * pairs):
        d, a, u = ring_layout(i)
        s += piece(8, state(i, 256)) + piece(10, state(i, 0))
        s += piece(9, struct.pack("<IIQQQQ", i, 0, UVA + d, UVA + u, UVA + a, 0))
        s += piece(12, u64(i), fds=1) + piece(13, u64(i), fds=1)
        s += piece(18, state(i, 1), split=(i == 1))
    return s


def tx_frame(ring):
    d, a, _ = ring_layout(ring)
    frame = bytes(12) + bytes.fromhex("ffffffffffff020000000401") + b"\x08\x06" + bytes(46)
    desc = struct.pack("<QIHH", 0x30000, len(frame), 0, 0)
    return memory(0x30000, frame) + memory(d, desc) + memory(a, struct.pack("<HHH", 0, 1, 0))


def rx_buffers(ring):
    d, a, _ = ring_layout(ring)
    desc = struct.pack("<QIHH", 0x38000, 2048, 2, 0)          # VRING_DESC_F_WRITE
    return memory(d, desc) + memory(a, struct.pack("<HHH", 0, 1, 0))


seeds = {
    "handshake-1pair": b"\x00" + setup(1),
    "tx-frame-1pair": b"\x00" + setup(1) + tx_frame(1),
    "rx-buffer-1pair": b"\x00" + setup(1) + rx_buffers(0) + tx_frame(1),
    "tx-frame-2pairs": b"\x01" + setup(2) + tx_frame(3) + tx_frame(1),
    "stop-and-reset": b"\x00" + setup(1) + tx_frame(1) + piece(11, state(1, 0)) + piece(4) + piece(3),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {OUT}")
