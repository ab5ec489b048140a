#!/usr/bin/env python3
"""Benchmark `kinn dns` against dnsmasq serving the same records, with dnsperf, in one run.

    .venv/bin/python bench/dns.py [--services 1000] [--headless 50] [--endpoints 5] [--seconds 10] [--rate 5000]
                                  [--port 15353]   # kinn dns there, the two dnsmasq on the next two ports

A fresh `kinn apiserver` gets --services ClusterIP Services and --headless headless ones with
--endpoints ready endpoints each (EndpointSlices written directly: no controllers run). `kinn dns`
serves them from its informers; dnsmasq (Debian's dnsmasq-base) serves the same names, read back
from the API, as host-record/srv-host lines, authoritative for cluster.local with nothing
forwarded. Both get the same dnsperf query file — A for Services and headless Services, SRV, AAAA
(NODATA) and names that do not exist (NXDOMAIN) — first as fast as dnsperf can send (throughput),
then paced at --rate queries/s with every query's latency recorded (p50/p99). dnsmasq scans its
srv-host list on every query, so a second dnsmasq without the SRV records shows its best case
(its SRV queries then fail). Servers and dnsperf share the machine's two cores: lower bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from dnslib import DNSRecord
from scratch import scratch_dir

from kinn.client.rest import Client, resource

NAMESPACES = resource("v1", "namespaces")
SERVICES = resource("v1", "services")
SLICES = resource("discovery.k8s.io/v1", "endpointslices")
NS = "bench"
ZONE = "cluster.local"
TTL = 30


def fqdn(name: str) -> str:
    return f"{name}.{NS}.svc.{ZONE}"


async def populate(kubeconfig: Path, args: argparse.Namespace) -> list[str]:
    """Create the Services and slices; return dnsmasq's lines for the same records, read back from the API."""
    async with Client.from_kubeconfig(str(kubeconfig)) as client:
        await client.create(NAMESPACES, {"metadata": {"name": NS}})
        port = [{"name": "http", "port": 80, "protocol": "TCP"}]
        for i in range(args.services):
            await client.create(SERVICES, {"metadata": {"name": f"svc-{i}"}, "spec": {"ports": port}}, NS)
        for i in range(args.headless):
            await client.create(SERVICES, {"metadata": {"name": f"headless-{i}"},
                                           "spec": {"clusterIP": "None", "ports": port}}, NS)
            endpoints = [{"addresses": [f"10.244.{i % 250}.{j + 1}"], "conditions": {"ready": True}}
                         for j in range(args.endpoints)]
            await client.create(SLICES, {"metadata": {"name": f"headless-{i}-abcde",
                                                      "labels": {"kubernetes.io/service-name": f"headless-{i}"}},
                                         "addressType": "IPv4", "endpoints": endpoints, "ports": port}, NS)
        services = (await client.list_all(SERVICES, NS))["items"]
        slices = (await client.list_all(SLICES, NS))["items"]
    return dnsmasq_records(services, slices)


def dnsmasq_records(services: list[dict], slices: list[dict]) -> list[str]:
    lines = []
    for service in services:
        name, ip = service["metadata"]["name"], service["spec"]["clusterIP"]
        if ip != "None":
            lines += [f"host-record={fqdn(name)},{ip}", f"srv-host=_http._tcp.{fqdn(name)},{fqdn(name)},80,0,100"]
    for endpoint_slice in slices:
        name = endpoint_slice["metadata"]["labels"]["kubernetes.io/service-name"]
        weight = 100 // len(endpoint_slice["endpoints"])
        for endpoint in endpoint_slice["endpoints"]:
            ip = endpoint["addresses"][0]
            host = f"{ip.replace('.', '-')}.{fqdn(name)}"
            lines += [f"host-record={fqdn(name)},{ip}", f"host-record={host},{ip}",
                      f"srv-host=_http._tcp.{fqdn(name)},{host},80,0,{weight}"]
    return lines


def query_file(path: Path, args: argparse.Namespace) -> None:
    """Mostly A for Services, as pods ask; then headless, SRV, AAAA (NODATA) and NXDOMAIN."""
    rng = random.Random(1)
    queries = [f"{fqdn(f'svc-{rng.randrange(args.services)}')} A" for _ in range(7000)]
    queries += [f"{fqdn(f'headless-{rng.randrange(args.headless)}')} A" for _ in range(1000)]
    queries += [f"_http._tcp.{fqdn(f'svc-{rng.randrange(args.services)}')} SRV" for _ in range(1000)]
    queries += [f"{fqdn(f'svc-{rng.randrange(args.services)}')} AAAA" for _ in range(500)]
    queries += [f"{fqdn(f'missing-{i}')} A" for i in range(500)]
    rng.shuffle(queries)
    path.write_text("\n".join(queries) + "\n")


def wait_for(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{what} did not start")
        time.sleep(0.05)


def start_kinn_dns(kubeconfig: Path, port: int, work: Path) -> subprocess.Popen[bytes]:
    """Serving once its caches have synced: then it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kinn", "dns", "--kubeconfig", str(kubeconfig), "--bind-address", "127.0.0.1",
         "--port", str(port), "--ttl", str(TTL), "--health-port", "0", "--ready-port", "0", "-v", "0"],
        stdout=(work / "dns.log").open("wb"), stderr=subprocess.STDOUT)
    wait_for("kinn dns", lambda: answers(port, fqdn("svc-0"), "A") != [], process)
    return process


def start_dnsmasq(records: list[str], port: int, work: Path) -> subprocess.Popen[bytes]:
    """Authoritative for the zone from its config alone: no upstream, no /etc/hosts, no privilege drop."""
    config = work / f"dnsmasq-{port}.conf"
    config.write_text("\n".join(["no-resolv", "no-hosts", f"port={port}", "listen-address=127.0.0.1",
                                 "bind-interfaces", f"local=/{ZONE}/", f"local-ttl={TTL}", "user=root",
                                 "pid-file=", *records]) + "\n")
    process = subprocess.Popen(["dnsmasq", "--keep-in-foreground", f"--conf-file={config}",
                                "--log-facility=/dev/null"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for("dnsmasq", lambda: answers(port, fqdn("svc-0"), "A") != [], process)
    return process


def answers(port: int, name: str, qtype: str) -> list[str]:
    try:
        reply = DNSRecord.parse(DNSRecord.question(name, qtype).send("127.0.0.1", port, timeout=1))
    except OSError:
        return []
    return sorted(str(rr.rdata) for rr in reply.rr)


def dnsperf(port: int, queries: Path, seconds: int, *extra: str) -> str:
    return subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries), "-l", str(seconds),
                           *extra], capture_output=True, text=True, check=True).stdout


def figure(output: str, label: str) -> float:
    match = re.search(rf"{label}:\s+([\d.]+)", output)
    return float(match.group(1)) if match else float("nan")


def measure(port: int, queries: Path, args: argparse.Namespace) -> dict[str, float]:
    unpaced = dnsperf(port, queries, args.seconds, "-q", "100")
    paced = dnsperf(port, queries, args.seconds, "-Q", str(args.rate), "-v")
    latencies = [float(line.split()[-1]) * 1000 for line in paced.splitlines()
                 if line.startswith("> ") and line.split()[1] != "T"]
    cuts = statistics.quantiles(latencies, n=1000)
    return {"qps": figure(unpaced, "Queries per second"), "avg": figure(unpaced, "Average Latency \\(s\\)") * 1000,
            "lost": figure(unpaced, "Queries lost"), "paced": figure(paced, "Queries per second"),
            "p50": cuts[499], "p99": cuts[989], "p999": cuts[998], "max": max(latencies),
            "timeouts": sum(line.split()[1] == "T" for line in paced.splitlines() if line.startswith("> "))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--headless", type=int, default=50)
    parser.add_argument("--endpoints", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--port", type=int, default=15353, help="the first of three UDP+TCP ports on 127.0.0.1")
    args = parser.parse_args()
    for tool in ("dnsperf", "dnsmasq"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (hack/setup.sh installs dnsperf and dnsmasq-base)")
    with scratch_dir("kinn-bench-dns-") as work:
        run_benchmark(args, work)


def run_benchmark(args: argparse.Namespace, work: Path) -> None:
    """The API server, kinn dns and both dnsmasq instances, all started here and stopped afterwards."""
    kubeconfig = work / "kubeconfig"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        server = subprocess.Popen([sys.executable, "-m", "kinn", "apiserver", "--data-dir", str(work), "--secure-port",
                                   "0", "--kubeconfig-out", str(kubeconfig), "-v", "0"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(server)
        wait_for("kinn apiserver", kubeconfig.exists, server)
        records = asyncio.run(populate(kubeconfig, args))
        ports = {"kinn dns": args.port, "dnsmasq": args.port + 1, "dnsmasq, no SRV": args.port + 2}
        processes.append(start_kinn_dns(kubeconfig, ports["kinn dns"], work))
        processes.append(start_dnsmasq(records, ports["dnsmasq"], work))
        processes.append(start_dnsmasq([r for r in records if not r.startswith("srv-host=")],
                                       ports["dnsmasq, no SRV"], work))
        queries = work / "queries.txt"
        query_file(queries, args)
        for name, qtype in ((fqdn("svc-7"), "A"), (fqdn("headless-3"), "A"), (f"_http._tcp.{fqdn('svc-7')}", "SRV")):
            assert answers(ports["kinn dns"], name, qtype) == answers(ports["dnsmasq"], name, qtype), name
        print(f"cluster DNS benchmark — {args.services} Services, {args.headless} headless × {args.endpoints} "
              f"endpoints; dnsperf on the same 2 cores\n")
        print(f"{'server':15} {'max qps':>9} {'avg ms':>7} {'lost':>5} │ {'at':>6} qps {'p50 ms':>7} {'p99 ms':>7} "
              f"{'p99.9 ms':>9} {'max ms':>7} {'timeouts':>8}")
        results = {}
        for name, port in ports.items():
            r = results[name] = measure(port, queries, args)
            print(f"{name:15} {r['qps']:9.0f} {r['avg']:7.2f} {r['lost']:5.0f} │ {r['paced']:6.0f}     {r['p50']:7.2f} "
                  f"{r['p99']:7.2f} {r['p999']:9.2f} {r['max']:7.2f} {r['timeouts']:8.0f}")
        print(f"\nkinn dns / dnsmasq throughput: {results['kinn dns']['qps'] / results['dnsmasq']['qps']:.2f} "
              f"(/ dnsmasq without SRV records: {results['kinn dns']['qps'] / results['dnsmasq, no SRV']['qps']:.2f})")
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
