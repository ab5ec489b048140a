"""`kinn dns`: the cluster DNS server (what CoreDNS with its kubernetes plugin is to a kubeadm cluster)."""

from __future__ import annotations

from pathlib import Path

import click

from kinn.cli.daemon import run_daemon, setup_logging, until_signalled
from kinn.client.kubeconfig import NotInCluster, load_in_cluster_config, load_kubeconfig
from kinn.client.rest import Client
from kinn.dns.answer import Zone
from kinn.dns.server import DNSOptions, local_addresses, run_dns

PORT = click.IntRange(0, 65535)


@click.command()
@click.option("--kubeconfig", type=click.Path(exists=True, path_type=Path),
              help="Kubeconfig with the API server's address and credentials; without it, the pod's in-cluster "
                   "config (KUBERNETES_SERVICE_HOST/PORT and the service-account token).")
@click.option("--cluster-domain", default="cluster.local", show_default=True,
              help="The zone served: <svc>.<ns>.svc.<domain>, <a-b-c-d>.<ns>.pod.<domain>.")
@click.option("--bind-address", default="0.0.0.0", show_default=True, help="Address for DNS and the probes.")
@click.option("--port", type=click.IntRange(1, 65535), default=53, show_default=True, help="UDP and TCP port for DNS.")
@click.option("--ttl", type=click.IntRange(0, 3600), default=30, show_default=True,
              help="TTL of the answers (kubeadm's Corefile sets 30).")
@click.option("--health-port", type=PORT, default=8080, show_default=True,
              help="Serve GET /health here (0: off).")
@click.option("--ready-port", type=PORT, default=8181, show_default=True,
              help="Serve GET /ready here, 200 once the caches have synced (0: off).")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True, help="Log level (klog style).")
def dns(kubeconfig: Path | None, cluster_domain: str, bind_address: str, port: int, ttl: int, health_port: int,
        ready_port: int, verbosity: int) -> None:
    """Serve cluster DNS: Services, endpoints and pods by name (the Kubernetes DNS spec), from watches.

    Names outside the cluster domain are answered REFUSED: nothing is forwarded off the host.
    """
    setup_logging(verbosity)
    try:
        config = load_kubeconfig(kubeconfig) if kubeconfig else load_in_cluster_config()
    except (NotInCluster, OSError) as e:
        raise click.ClickException(f"{e} (or pass --kubeconfig)")
    zone = Zone(cluster_domain.strip(".").lower(), ttl, local_addresses(bind_address))
    options = DNSOptions(zone, bind_address, port, health_port, ready_port)
    run_daemon(_serve(Client(config, user_agent="kinn-dns"), options))


async def _serve(client: Client, options: DNSOptions) -> None:
    async with client:
        await until_signalled(run_dns(client, options))
