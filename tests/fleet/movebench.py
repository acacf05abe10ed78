#!/usr/bin/python3
"""Times a VM's moves between hosts from the etcd write to the first frame delivered
(tests/fleet/run.sh: vm_moves_traffic_follows and FLEET_BENCH). Every time is
CLOCK_REALTIME (time.time(), SO_TIMESTAMPNS), so times taken in different namespaces
compare.

  movebench.py recv --tap NAME --src-mac MAC [--timeout S]
      In a host's namespace, the VM's side. For each line on stdin: waits until the tap
      NAME is absent (its previous incarnation on this host gone), prints "ready", waits
      for xtapd to create it, attaches to it as a VMM does (TUNSETIFF, retried while xtapd
      still holds it), and prints "frame T" when the first frame from MAC arrives, then
      detaches; "timeout" if none within S seconds.
  movebench.py sniff --dev IF --src IP
      In the underlay's namespace, on the bridge port of the sending host: prints
      "vtep DST T" each time VXLAN (UDP 4789) from IP goes to another outer destination
      than before, T the kernel's receive timestamp: when the sender's datapath switched.
  movebench.py bench --url URL --port NAME --src-mac MAC --hosts H=VTEP,H=VTEP
                     --ns-prefix P --sniff-ns NS --sniff-dev IF --sniff-src IP --moves N [--out FILE]
      Moves port NAME between the two hosts N times with one etcd transaction each (the
      one xtapctl --etcd port set --host writes: delete the old key, create the new one,
      guarded by revisions, the value as xtapctl wrote it), a receiver on each host and
      the sniffer running, and an etcd watch on /xtap/status/. Per move: the write's
      round trip, the first frame at the VM on its new host, the new host's status
      "applied" for the write's revision, the sender's datapath at the new VTEP. Prints
      p50, p99 and max of each; exits 1 if a move did not complete.
"""
import argparse
import base64
import fcntl
import http.client
import json
import math
import os
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

TUNSETIFF = 0x400454CA
TUNSETVNETHDRSZ = 0x400454D8
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE = 0x0002, 0x1000, 0x4000, 0x0100
VNET_HDR_LEN = 12  # as xtapd sets it (agent/lib/netdev.c)
SO_TIMESTAMPNS = 35


def mac_bytes(s):
    return bytes.fromhex(s.replace(":", ""))


def tap_attach(name):
    """An fd on the existing tap NAME, or None while it cannot be had yet."""
    if not os.path.exists("/sys/class/net/" + name):
        return None  # TUNSETIFF would create a tap of our own
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    for flags in (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE):
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
            fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR_LEN))
            return fd
        except OSError as e:
            if e.errno == 22:  # EINVAL: a multiqueue tap takes IFF_MULTI_QUEUE attachments
                continue
            break  # EBUSY: xtapd still sets it up (its fd open until TUNSETPERSIST)
    os.close(fd)
    return None


def cmd_recv(a):
    src = mac_bytes(a.src_mac)
    path = "/sys/class/net/" + a.tap
    for _ in sys.stdin:
        end = time.monotonic() + a.timeout
        while os.path.exists(path) and time.monotonic() < end:
            time.sleep(0.001)
        print("ready", flush=True)
        fd = None
        while fd is None and time.monotonic() < end:
            fd = tap_attach(a.tap)
            if fd is None:
                time.sleep(0.0005)
        got = None
        if fd is not None:
            p = select.poll()
            p.register(fd, select.POLLIN)
            while got is None and time.monotonic() < end:
                if not p.poll(100):
                    continue
                try:
                    while True:
                        f = os.read(fd, 65536 + VNET_HDR_LEN)
                        if f[VNET_HDR_LEN + 6:VNET_HDR_LEN + 12] == src:
                            got = time.time()
                            break
                except BlockingIOError:
                    pass
                except OSError:  # the tap went away under us
                    break
            os.close(fd)
        print("frame %.6f" % got if got else "timeout", flush=True)


def cmd_sniff(a):
    # ETH_P_ALL: a bridge port's frames reach only packet sockets of every protocol (the
    # bridge takes them before protocol handlers); bound to protocol 0 a socket gets nothing
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((a.dev, 3))
    src = socket.inet_aton(a.src)
    last, seen = None, 0
    print("ready", flush=True)
    while True:
        f, anc, _, _ = s.recvmsg(2048, 64)
        seen += 1
        if seen % 1000 == 0:
            print("seen %d" % seen, flush=True)
        t = None
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", data[:16])
                t = sec + nsec / 1e9
        t = t or time.time()
        if len(f) < 14 + 28 or f[12:14] != b"\x08\x00" or f[14 + 9] != 17 or f[14 + 12:14 + 16] != src:
            continue
        ihl = (f[14] & 15) * 4
        if struct.unpack("!H", f[14 + ihl + 2:14 + ihl + 4])[0] != 4789:
            continue
        dst = f[14 + 16:14 + 20]
        if dst != last:
            last = dst
            print("vtep %s %.6f" % (socket.inet_ntoa(dst), t), flush=True)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def unb64(s):
    return base64.b64decode(s).decode()


class Etcd:
    def __init__(self, url, timeout=10):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.timeout = u.hostname, u.port or 2379, timeout
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, path, body):
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("etcd %s: HTTP %d: %s" % (path, r.status, data[:200]))
        return json.loads(data)

    def watch(self, prefix, start_rev, fn):
        """Calls fn(events, time of arrival) for every watch response, until the stream ends."""
        conn = http.client.HTTPConnection(self.host, self.port)
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        conn.request("POST", "/v3/watch", json.dumps({"create_request": {
            "key": b64(prefix), "range_end": b64(end), "start_revision": start_rev}}),
            {"Content-Type": "application/json"})
        r = conn.getresponse()
        dec, buf = json.JSONDecoder(), ""
        while True:
            chunk = r.read1(65536)
            if not chunk:
                return
            t = time.time()
            buf += chunk.decode()
            while True:
                buf = buf.lstrip()
                try:
                    obj, n = dec.raw_decode(buf)
                except ValueError:
                    break
                buf = buf[n:]
                fn(obj.get("result", {}).get("events", []), t)


def lines_of(proc, q, tag):
    for line in proc.stdout:
        q.put((tag, line.split()))
    q.put((tag, ["eof"]))


def pct(v, p):
    """Nearest rank: the value with ceil(p*n) values at or below it."""
    v = sorted(v)
    return v[max(0, math.ceil(p * len(v)) - 1)]


def cmd_bench(a):
    hosts = dict(h.split("=") for h in a.hosts.split(","))
    etcd = Etcd(a.url)
    r = etcd.call("/v3/kv/range", {"key": b64("/xtap/ports/"), "range_end": b64("/xtap/ports0")})
    cur = [kv for kv in r.get("kvs", []) if unb64(kv["key"]).endswith("/" + a.port)]
    if len(cur) != 1:
        sys.exit("bench: port %s: %d keys in etcd" % (a.port, len(cur)))
    cur_key, cur_rev, value = unb64(cur[0]["key"]), int(cur[0]["mod_revision"]), unb64(cur[0]["value"])
    at = cur_key.split("/")[3]
    if at not in hosts:
        sys.exit("bench: port %s is on %s, not on %s" % (a.port, at, " or ".join(hosts)))

    me = os.path.realpath(__file__)
    procs, q = {}, queue.Queue()
    status, slock = {}, threading.Lock()

    def on_status(events, t):
        for ev in events:
            kv = ev.get("kv", {})
            parts = unb64(kv.get("key", "")).split("/")
            if ev.get("type") == "DELETE" or len(parts) != 5 or parts[4] != a.port:
                continue
            try:
                st = json.loads(unb64(kv.get("value", "")))
            except ValueError:
                continue
            if st.get("state") == "applied":
                with slock:
                    status.setdefault((parts[3], int(st.get("revision", 0))), t)
    try:
        for h in hosts:
            procs[h] = subprocess.Popen(["ip", "netns", "exec", a.ns_prefix + h, sys.executable, me, "recv",
                                         "--tap", a.port, "--src-mac", a.src_mac, "--timeout", "30"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        procs["sniff"] = subprocess.Popen(["ip", "netns", "exec", a.ns_prefix + a.sniff_ns, sys.executable, me,
                                           "sniff", "--dev", a.sniff_dev, "--src", a.sniff_src],
                                          stdout=subprocess.PIPE, text=True, bufsize=1)
        for tag, p in procs.items():
            threading.Thread(target=lines_of, args=(p, q, tag), daemon=True).start()
        threading.Thread(target=etcd.watch, args=("/xtap/status/", int(r["header"]["revision"]) + 1, on_status),
                         daemon=True).start()
        vteps = []   # (dst, t) from the sniffer
        seen = [0]   # IPv4 frames it has seen

        def wait_line(tag, timeout):
            end = time.monotonic() + timeout
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                try:
                    t, w = q.get(timeout=left)
                except queue.Empty:
                    return None
                if t == "sniff" and w[0] == "vtep":
                    vteps.append((w[1], float(w[2])))
                elif t == "sniff" and w[0] == "seen":
                    seen[0] = int(w[1])
                elif t == tag:
                    return w
        if (wait_line("sniff", 30) or ["?"])[0] != "ready":
            sys.exit("bench: the sniffer did not start")
        rows, failed, in_a_row = [], 0, 0
        out = open(a.out, "w") if a.out else None
        for i in range(a.moves):
            to = [h for h in hosts if h != at][0]
            procs[to].stdin.write("arm\n")
            if (wait_line(to, 40) or ["?"])[0] != "ready":
                sys.exit("bench: move %d: %s never lost its old %s" % (i + 1, to, a.port))
            key = "/xtap/ports/%s/%s" % (to, a.port)
            txn = {"compare": [{"key": b64(cur_key), "target": "MOD", "result": "EQUAL", "mod_revision": cur_rev},
                               {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": 0}],
                   "success": [{"request_delete_range": {"key": b64(cur_key)}},
                               {"request_put": {"key": b64(key), "value": b64(value)}}]}
            t0 = time.time()
            resp = etcd.call("/v3/kv/txn", txn)
            t1 = time.time()
            if not resp.get("succeeded"):
                sys.exit("bench: move %d: the transaction's guard failed: %s" % (i + 1, resp))
            rev = int(resp["header"]["revision"])
            w = wait_line(to, 40) or ["timeout"]
            frame = float(w[1]) if w[0] == "frame" else None
            end = time.monotonic() + 20
            st = vt = None
            while time.monotonic() < end and (st is None or vt is None):
                with slock:
                    st = status.get((to, rev))
                vt = next((t for d, t in vteps if d == hosts[to] and t >= t0), None)
                if st is None or vt is None:
                    wait_line("none", 0.01)
            ms = lambda t: (t - t0) * 1000 if t is not None else None
            row = (ms(t1), ms(frame), ms(st), ms(vt))
            if None in row:
                failed += 1
                in_a_row += 1
                if out:
                    print("move %d to %s: receiver said %s; sender's VTEPs since the start: %s (of %d IPv4 frames)" %
                          (i + 1, to, " ".join(w), vteps[-5:], seen[0]), file=out, flush=True)
            else:
                rows.append(row)
                in_a_row = 0
            if out:
                print("move %d to %s rev %d: write %s ms, first frame %s ms, status %s ms, sender at new VTEP %s ms" %
                      ((i + 1, to, rev) + tuple("%.1f" % x if x is not None else "none" for x in row)), file=out, flush=True)
            cur_key, cur_rev, at = key, rev, to
            if in_a_row == 3:
                print("bench: 3 moves in a row without their first frame: stopped after %d moves" % (i + 1))
                break
            time.sleep(a.settle)
        n = len(rows)
        if n:
            def fig(k):
                v = [r[k] for r in rows]
                return "p50 %.0f ms, p99 %.0f ms, max %.0f ms" % (pct(v, 0.5), pct(v, 0.99), max(v))
            print("bench: %d moves of %s between %s, etcd write -> first frame at the VM on its new host: %s" %
                  (n, a.port, " and ".join(hosts), fig(1)))
            print("bench: etcd write -> new host's status applied and sender's datapath at the new VTEP: p50 %.0f ms, p99 %.0f ms, max %.0f ms"
                  " (status %s; datapath %s)" % (pct([max(r[2], r[3]) for r in rows], 0.5), pct([max(r[2], r[3]) for r in rows], 0.99),
                                                 max(max(r[2], r[3]) for r in rows), fig(2), fig(3)))
            print("bench: the write itself (the transaction's round trip): %s" % fig(0))
        if failed:
            print("bench: %d of %d moves did not complete within 20 s" % (failed, a.moves))
        return 1 if failed or not n else 0
    finally:
        for tag, p in procs.items():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--tap", required=True)
    r.add_argument("--src-mac", required=True)
    r.add_argument("--timeout", type=float, default=30)
    s = sub.add_parser("sniff")
    s.add_argument("--dev", required=True)
    s.add_argument("--src", required=True)
    b = sub.add_parser("bench")
    for o in ("url", "port", "src-mac", "hosts", "ns-prefix", "sniff-ns", "sniff-dev", "sniff-src"):
        b.add_argument("--" + o, required=True)
    b.add_argument("--moves", type=int, default=100)
    b.add_argument("--settle", type=float, default=0.2)
    b.add_argument("--out")
    a = ap.parse_args()
    return {"recv": cmd_recv, "sniff": cmd_sniff, "bench": cmd_bench}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
