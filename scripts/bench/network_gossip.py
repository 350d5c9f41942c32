#!/usr/bin/env python3
"""Measure the network layer on 127.0.0.1: gossip latency and rate, request/response
throughput, and the memory of one host.

Each host runs in its own process (as nodes do), so the 2 cores are shared the way a
devnet shares them. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench/network_gossip.py                # defaults
    .venv/bin/python scripts/bench/network_gossip.py --messages 500 --rate 100
    .venv/bin/python scripts/bench/network_gossip.py --in-process   # all hosts in one trio loop

Figures:
- gossip latency: one host publishes ``--messages`` small messages at ``--rate`` per second;
  for each message, the time from publish until the other hosts' handlers got it
  (per delivery, and until the last of the 3 hosts had it), median and p99;
- gossip burst: the same host publishes ``--burst`` messages as fast as it can; the rate
  at which all receivers got all of them;
- request/response: ``--requests`` requests answered with 1 MiB each, MB/s and per request;
- RSS: of a host process with its peers, after the runs (and of a process with the same
  imports and no host, for comparison: importing py-libp2p alone is ~60 MiB).
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import statistics
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import structlog  # noqa: E402
import trio  # noqa: E402

from network import ACCEPT, ChainPoint, Network, NetworkConfig, NodeIdentity, Status  # noqa: E402

GENESIS = b"\x42" * 32
STATUS = Status(1337, GENESIS, ChainPoint(1, b"\x01" * 32), ChainPoint(0, GENESIS))
MIB = 1024 * 1024
STAMP = struct.Struct(">Qq")  # sequence number, publish time (ns, CLOCK_MONOTONIC: one per machine)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.ERROR)


def config(**kw: object) -> NetworkConfig:
    return NetworkConfig(listen_port=0, px_interval_s=0.5, dial_backoff_initial_s=0.1, **kw)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Host:
    """One host and what it received, for either mode."""

    def __init__(self, bootnode: str | None) -> None:
        self.net = Network(config(bootnodes=(bootnode,) if bootnode else ()), NodeIdentity.generate(), lambda: STATUS)
        self.received: list[tuple[int, int, int]] = []  # (seq, published ns, received ns)
        self.blob = os.urandom(MIB)

    async def setup(self) -> None:
        await self.net.subscribe("bench", lambda peer, data: ACCEPT, self._handle, max_bytes=4096)
        self.net.set_request_handler(self._serve)

    async def _handle(self, peer: str, data: bytes) -> None:
        seq, sent = STAMP.unpack_from(data)
        self.received.append((seq, sent, time.monotonic_ns()))

    async def _serve(self, peer: str, request: bytes) -> bytes:
        return b"pong" if request == b"ping" else self.blob

    def ready(self, n_peers: int) -> bool:
        mesh = self.net.gossip.router.mesh.get(self.net.gossip.topic_id("bench"), set())
        return len(self.net.peers()) == n_peers and len(mesh) == n_peers


async def publish(net: Network, first_seq: int, count: int, rate: float | None) -> None:
    start = time.monotonic()
    for i in range(count):
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await trio.sleep(delay)
        payload = STAMP.pack(first_seq + i, time.monotonic_ns()) + b"." * 100
        await net.publish("bench", payload)


async def request_throughput(net: Network, peer: str, requests: int) -> tuple[float, float, float]:
    await trio.sleep(1.0)  # let the burst's duplicates settle
    await net.request(peer, b"warm-up", timeout=30)
    t0 = time.monotonic()
    for _ in range(requests):
        body = await net.request(peer, b"give me a MiB", timeout=30)
        assert len(body) == MIB
    elapsed = time.monotonic() - t0
    t1 = time.monotonic()
    for _ in range(100):
        assert await net.request(peer, b"ping", timeout=30) == b"pong"
    small_ms = (time.monotonic() - t1) / 100 * 1000
    return requests * MIB / elapsed / 1e6, elapsed / requests * 1000, small_ms


# -- one process per host --------------------------------------------------------------


def child(index: int, bootnode: str | None, to_parent: mp.Queue, from_parent: mp.Queue) -> None:
    quiet()
    trio.run(_child, index, bootnode, to_parent, from_parent)


async def _child(index: int, bootnode: str | None, to_parent: mp.Queue, from_parent: mp.Queue) -> None:
    host = Host(bootnode)
    await host.setup()

    async def command() -> tuple:
        return await trio.to_thread.run_sync(from_parent.get)

    async with trio.open_nursery() as nursery:
        await nursery.start(host.net.run)
        to_parent.put(("started", index, host.net.multiaddr, host.net.peer_id))
        while True:
            cmd = await command()
            if cmd[0] == "wait_ready":
                while not host.ready(cmd[1]):
                    await trio.sleep(0.05)
                to_parent.put(("ready", index))
            elif cmd[0] == "publish":
                _, first, count, rate = cmd
                await publish(host.net, first, count, rate)
                to_parent.put(("published", index))
            elif cmd[0] == "report":
                to_parent.put(("received", index, list(host.received), rss_mib()))
                host.received.clear()
            elif cmd[0] == "request":
                to_parent.put(("requested", index, *await request_throughput(host.net, cmd[1], cmd[2])))
            elif cmd[0] == "stop":
                nursery.cancel_scope.cancel()
                return


class Processes:
    def __init__(self, n: int) -> None:
        ctx = mp.get_context("spawn")
        self.to_parent: mp.Queue = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.procs: list[mp.Process] = []
        self.addrs: list[str] = []
        self.peer_ids: list[str] = []
        boot = None
        for i in range(n):
            p = ctx.Process(target=child, args=(i, boot, self.to_parent, self.inboxes[i]), daemon=True)
            p.start()
            self.procs.append(p)
            _, _, addr, peer = self.expect("started")
            self.addrs.append(addr)
            self.peer_ids.append(peer)
            boot = self.addrs[0]

    def expect(self, kind: str) -> tuple:
        msg = self.to_parent.get(timeout=120)
        assert msg[0] == kind, msg
        return msg

    def all(self, cmd: tuple, reply: str) -> list[tuple]:
        for box in self.inboxes:
            box.put(cmd)
        return sorted((self.expect(reply) for _ in self.inboxes), key=lambda m: m[1])

    def one(self, i: int, cmd: tuple, reply: str) -> tuple:
        self.inboxes[i].put(cmd)
        return self.expect(reply)

    def stop(self) -> None:
        for box in self.inboxes:
            box.put(("stop",))
        for p in self.procs:
            p.join(timeout=10)


def run_processes(args: argparse.Namespace) -> dict:
    n = args.hosts
    procs = Processes(n)
    t0 = time.monotonic()
    procs.all(("wait_ready", n - 1), "ready")
    results: dict = {"mesh_ready_s": time.monotonic() - t0}

    procs.one(0, ("publish", 0, args.messages, args.rate), "published")
    time.sleep(1.0)
    reports = procs.all(("report",), "received")
    results["latency"] = latencies([r[2] for r in reports[1:]], args.messages)

    t0 = time.monotonic_ns()
    procs.one(0, ("publish", 10**6, args.burst, None), "published")
    deadline = time.monotonic() + 60
    got: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        for r in procs.all(("report",), "received"):
            got[r[1]].extend(r[2])
        if all(len(g) >= args.burst for g in got[1:]):
            break
    results["burst"] = burst(got[1:], args.burst, t0)

    results["reqresp"] = procs.one(1, ("request", procs.peer_ids[0], args.requests), "requested")[2:]
    results["rss_mib"] = [r[3] for r in procs.all(("report",), "received")]
    procs.stop()
    return results


# -- all hosts in one trio loop ------------------------------------------------------------


def run_in_process(args: argparse.Namespace) -> dict:
    quiet()
    return trio.run(_run_in_process, args)


async def _run_in_process(args: argparse.Namespace) -> dict:
    n = args.hosts
    results: dict = {}
    async with trio.open_nursery() as nursery:
        hosts = [Host(None)]
        await hosts[0].setup()
        await nursery.start(hosts[0].net.run)
        for _ in range(n - 1):
            host = Host(hosts[0].net.multiaddr)
            await host.setup()
            await nursery.start(host.net.run)
            hosts.append(host)
        t0 = time.monotonic()
        while not all(h.ready(n - 1) for h in hosts):
            await trio.sleep(0.05)
        results["mesh_ready_s"] = time.monotonic() - t0

        await publish(hosts[0].net, 0, args.messages, args.rate)
        await trio.sleep(1.0)
        results["latency"] = latencies([h.received for h in hosts[1:]], args.messages)
        for h in hosts:
            h.received = []

        t0_ns = time.monotonic_ns()
        await publish(hosts[0].net, 10**6, args.burst, None)
        with trio.move_on_after(60):
            while not all(len(h.received) >= args.burst for h in hosts[1:]):
                await trio.sleep(0.05)
        results["burst"] = burst([h.received for h in hosts[1:]], args.burst, t0_ns)
        results["reqresp"] = await request_throughput(hosts[1].net, hosts[0].net.peer_id, args.requests)
        results["rss_mib"] = [rss_mib()]
        nursery.cancel_scope.cancel()
    return results


# -- figures ---------------------------------------------------------------------------------


def latencies(received: list[list[tuple[int, int, int]]], expected: int) -> dict:
    per_delivery = [(got - sent) / 1e6 for rows in received for _, sent, got in rows]
    by_seq: dict[int, list[float]] = {}
    for rows in received:
        for seq, sent, got in rows:
            by_seq.setdefault(seq, []).append((got - sent) / 1e6)
    everywhere = [max(v) for v in by_seq.values() if len(v) == len(received)]
    return {
        "deliveries": len(per_delivery),
        "expected": expected * len(received),
        "delivery_median_ms": statistics.median(per_delivery),
        "delivery_p99_ms": percentile(per_delivery, 0.99),
        "all_hosts_median_ms": statistics.median(everywhere),
        "all_hosts_p99_ms": percentile(everywhere, 0.99),
    }


def burst(received: list[list[tuple[int, int, int]]], count: int, t0_ns: int) -> dict:
    last = max((got for rows in received for _, _, got in rows), default=t0_ns)
    seconds = (last - t0_ns) / 1e9
    delivered = min(len({seq for seq, _, _ in rows}) for rows in received)
    return {"messages": count, "delivered_to_each": delivered, "seconds": seconds, "msgs_per_s": delivered / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--messages", type=int, default=300, help="latency run: messages published")
    parser.add_argument("--rate", type=float, default=50.0, help="latency run: messages per second")
    parser.add_argument("--burst", type=int, default=1000, help="burst run: messages published at once")
    parser.add_argument("--requests", type=int, default=30, help="1 MiB responses requested")
    parser.add_argument("--in-process", action="store_true", help="all hosts in one trio loop")
    args = parser.parse_args()

    base = rss_mib()
    results = run_in_process(args) if args.in_process else run_processes(args)
    mode = "one process, one trio loop" if args.in_process else "one process per host"
    lat, bur = results["latency"], results["burst"]
    mbps, ms, small_ms = results["reqresp"]
    print(f"network bench: {args.hosts} hosts on 127.0.0.1 ({mode}), noise + yamux, gossipsub 1.1")
    print(f"  mesh complete after            {results['mesh_ready_s']:.2f} s (peer exchange from one bootnode)")
    print(f"  gossip latency, {args.messages} msgs at {args.rate:g}/s, 112-byte payloads:")
    print(f"    per delivery                 median {lat['delivery_median_ms']:.2f} ms   p99 {lat['delivery_p99_ms']:.2f} ms"
          f"   ({lat['deliveries']}/{lat['expected']} delivered)")
    print(f"    until all {args.hosts - 1} others have it   median {lat['all_hosts_median_ms']:.2f} ms   p99 {lat['all_hosts_p99_ms']:.2f} ms")
    print(f"  gossip burst, {bur['messages']} msgs at once:   {bur['msgs_per_s']:.0f} msg/s to every host"
          f" ({bur['delivered_to_each']}/{bur['messages']} each, {bur['seconds']:.2f} s)")
    print(f"  request/response, 1 MiB answers: {mbps:.0f} MB/s, {ms:.1f} ms per request ({args.requests} requests)")
    print(f"  request/response, 4-byte answer: {small_ms:.1f} ms per request (new stream each, 100 requests)")
    rss = ", ".join(f"{r:.0f}" for r in results["rss_mib"])
    print(f"  RSS per host                   {rss} MiB (the bench's parent, same imports, no host: {base:.0f} MiB)")


if __name__ == "__main__":
    main()
