#!/usr/bin/env python3
"""Benchmark `kinn apiserver` over HTTPS, as clients see it, and print the figures.

    .venv/bin/python bench/apiserver.py [--pods 10000] [--watchers 1000]

Measures, against a fresh server with the SQLite store: create latency while filling the store
with pods, single-object GET latency and throughput, LIST of every pod (JSON and the Table kubectl
asks for), and the delay between a write and its arrival at each of many concurrent watchers.
GET and create are measured at several store sizes to show how they scale with object count.
The client runs in this process and shares the machine's two cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import uvloop
import yaml
from scratch import scratch_dir

COUNTER = re.compile(rb'"data":\{"n":"(\d+)"')
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def pod(name: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "shard": str(hash(name) % 10)}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    }


def resident_mb(pid: int) -> float:
    """The process's resident set size, as /proc reports it (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{label:<42} n={len(ms):<6} p50={statistics.median(ms):6.2f} ms  "
            f"p99={percentile(ms, 99):6.2f} ms  max={max(ms):7.2f} ms")


class Bench:
    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        self.base = config["clusters"][0]["cluster"]["server"]
        tmp = kubeconfig.parent  # the bench's scratch directory
        user = config["users"][0]["user"]
        for name, field in (("ca.crt", None), ("client.crt", "client-certificate-data"), ("client.key", "client-key-data")):
            data = config["clusters"][0]["cluster"]["certificate-authority-data"] if field is None else user[field]
            (tmp / name).write_bytes(base64.b64decode(data))
        self.ssl = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
        self.ssl.load_cert_chain(tmp / "client.crt", tmp / "client.key")

    def session(self, limit: int = 64) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl, limit=limit))

    async def create_pods(self, session: aiohttp.ClientSession, names: list[str], concurrency: int = 8) -> list[float]:
        latencies: list[float] = []
        queue = list(reversed(names))

        async def worker() -> None:
            while queue:
                body = json.dumps(pod(queue.pop())).encode()
                start = time.perf_counter()
                async with session.post(f"{self.base}/api/v1/namespaces/default/pods", data=body,
                                        headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    assert r.status == 201, await r.text()
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies

    async def get_load(self, session: aiohttp.ClientSession, names: list[str], seconds: float,
                       concurrency: int = 8) -> tuple[list[float], float]:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                name = names[i % len(names)]
                i += concurrency
                start = time.perf_counter()
                async with session.get(f"{self.base}/api/v1/namespaces/default/pods/{name}") as r:
                    await r.read()
                    assert r.status == 200
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return latencies, len(latencies) / (time.perf_counter() - started)

    async def list_all(self, session: aiohttp.ClientSession, accept: str = "application/json") -> tuple[float, int, int]:
        start = time.perf_counter()
        async with session.get(f"{self.base}/api/v1/namespaces/default/pods", headers={"Accept": accept}) as r:
            body = await r.read()
        elapsed = time.perf_counter() - start
        doc = json.loads(body)
        return elapsed, len(doc.get("items", doc.get("rows", []))), len(body)

    async def watch_fanout(self, watchers: int, writes: int) -> list[float]:
        """Open `watchers` watches on one ConfigMap; time each write's arrival at each watcher.

        The watchers are raw TLS streams read in bulk (no HTTP client library, no JSON decoding)
        so that the client's own CPU, which shares the machine with the server, adds as little
        as possible to the measured delay.
        """
        url = f"{self.base}/api/v1/namespaces/default/configmaps"
        async with self.session() as session:
            async with session.post(url, json={"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "fanout"}, "data": {"n": "0"}}) as r:
                rv = (await r.json())["metadata"]["resourceVersion"]
            host, port = self.base.removeprefix("https://").split(":")
            path = (f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"
                    "&fieldSelector=metadata.name%3Dfanout")
            arrivals: dict[int, list[float]] = {}
            connected = 0
            all_connected = asyncio.Event()

            async def watcher() -> None:
                nonlocal connected
                reader, writer = await asyncio.open_connection(host, int(port), ssl=self.ssl)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                await reader.readuntil(b"\r\n\r\n")  # response headers: the watch is registered
                connected += 1
                if connected == watchers:
                    all_connected.set()
                seen = 0
                while seen < writes:
                    data = await reader.read(65536)
                    now = time.perf_counter()
                    if not data:
                        return
                    for match in COUNTER.finditer(data):
                        n = int(match.group(1))
                        arrivals.setdefault(n, []).append(now)
                        seen = max(seen, n)
                writer.close()

            tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
            await asyncio.wait_for(all_connected.wait(), 120)
            delays: list[float] = []
            for n in range(1, writes + 1):
                sent = time.perf_counter()
                async with session.patch(f"{url}/fanout", data=json.dumps({"data": {"n": str(n)}}),
                                         headers={"Content-Type": "application/merge-patch+json"}) as r:
                    await r.read()
                while len(arrivals.get(n, [])) < watchers:
                    await asyncio.sleep(0.001)
                delays.extend(t - sent for t in arrivals[n])
                await asyncio.sleep(0.2)
            await asyncio.gather(*tasks)
        return delays


async def run(args: argparse.Namespace, kubeconfig: Path) -> None:
    bench = Bench(kubeconfig)
    checkpoints = sorted({1000, args.pods // 2, args.pods} - {0})
    created = 0
    names: list[str] = []
    print(f"kinn apiserver benchmark — {args.pods} pods, {args.watchers} watchers, 2 cores shared with the client\n")
    async with bench.session() as session:
        for target in checkpoints:
            fill = [f"pod-{i:05d}" for i in range(created, target - args.probe)]
            started = time.perf_counter()
            await bench.create_pods(session, fill, concurrency=8)
            rate = len(fill) / (time.perf_counter() - started) if fill else 0.0
            probe = [f"pod-{i:05d}" for i in range(target - args.probe, target)]
            latencies = await bench.create_pods(session, probe, concurrency=1)
            names.extend(fill + probe)
            created = target
            print(summary(f"create, one client (store at {target})", latencies),
                  f" fill: {rate:5.0f} creates/s by 8 clients")
            get_latencies, rate = await bench.get_load(session, names, args.get_seconds, concurrency=4)
            print(summary(f"GET one pod, 4 clients (store at {target})", get_latencies), f" {rate:7.0f} GET/s")
        for label, accept in (("LIST all pods (JSON)", "application/json"), ("LIST all pods (Table, kubectl get)", TABLE_ACCEPT)):
            times = []
            for _ in range(3):
                elapsed, count, size = await bench.list_all(session, accept)
                times.append(elapsed)
            print(f"{label:<42} n={count:<6} best={min(times) * 1000:7.1f} ms  worst={max(times) * 1000:7.1f} ms  "
                  f"({size / 1e6:.1f} MB)")
    delays = await bench.watch_fanout(args.watchers, args.writes)
    print(summary(f"watch event delay ({args.watchers} watchers)", delays),
          f" {sum(d < 0.1 for d in delays) / len(delays) * 100:.1f}% under 100 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=5)
    parser.add_argument("--probe", type=int, default=300, help="creates timed one at a time per checkpoint")
    parser.add_argument("--get-seconds", type=float, default=5.0)
    args = parser.parse_args()
    with scratch_dir("kinn-bench-apiserver-") as data_dir:
        kubeconfig = data_dir / "kubeconfig"
        server = subprocess.Popen(
            [sys.executable, "-m", "kinn", "apiserver", "--data-dir", str(data_dir), "--secure-port", "0",
             "--kubeconfig-out", str(kubeconfig), "-v", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not kubeconfig.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("kinn apiserver did not start")
                time.sleep(0.05)
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(run(args, kubeconfig))
            size = sum(f.stat().st_size for f in data_dir.glob("state.db*"))
            print(f"\nstore on disk: {size / 1e6:.1f} MB (state.db + WAL)")
            print(f"server resident memory: {resident_mb(server.pid):.0f} MB (VmRSS)")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
