"""`kinn ingress-controller`: Ingresses served by nginx (what ingress-nginx's controller is to a cluster)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from kinn.cli.daemon import run_daemon, setup_logging, until_signalled
from kinn.client.kubeconfig import NotInCluster, load_in_cluster_config, load_kubeconfig
from kinn.client.rest import Client
from kinn.ingress.controller import ControllerOptions, run_ingress_controller
from kinn.ingress.ingressclass import CONTROLLER_CLASS, INGRESS_CLASS, ClassConfiguration


@click.command("ingress-controller")
@click.option("--kubeconfig", type=click.Path(exists=True, path_type=Path),
              help="Kubeconfig with the API server's address and credentials; without it, the pod's in-cluster "
                   "config (KUBERNETES_SERVICE_HOST/PORT and the service-account token).")
@click.option("--publish-service", default="", metavar="NAMESPACE/NAME",
              help="The Service whose LoadBalancer address the Ingresses' status gets (empty: status is left alone).")
@click.option("--controller-class", default=CONTROLLER_CLASS, show_default=True,
              help="IngressClasses with this spec.controller are served.")
@click.option("--ingress-class", default=INGRESS_CLASS, show_default=True,
              help="Ingresses with this kubernetes.io/ingress.class annotation (and no ingressClassName) are served.")
@click.option("--watch-ingress-without-class", is_flag=True,
              help="Also serve Ingresses with neither an ingressClassName nor the annotation.")
@click.option("--config-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("/run/ingress-nginx"),
              show_default=True, help="Private directory for nginx.conf, certificates, the pid file and temp files.")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True, help="Log level (klog style).")
def ingress_controller(kubeconfig: Path | None, publish_service: str, controller_class: str, ingress_class: str,
                       watch_ingress_without_class: bool, config_dir: Path, verbosity: int) -> None:
    """Serve the cluster's Ingresses with nginx (Debian's nginx-light), configured as ingress-nginx configures it.

    Reads POD_NAME and POD_NAMESPACE (the downward API) to record its RELOAD events on its own pod.
    """
    setup_logging(verbosity)
    try:
        config = load_kubeconfig(kubeconfig) if kubeconfig else load_in_cluster_config()
    except (NotInCluster, OSError) as e:
        raise click.ClickException(f"{e} (or pass --kubeconfig)")
    options = ControllerOptions(ClassConfiguration(controller_class, ingress_class, watch_ingress_without_class),
                                publish_service, os.environ.get("POD_NAME", ""), os.environ.get("POD_NAMESPACE", ""))
    run_daemon(_serve(Client(config, user_agent="kinn-ingress-controller"), options, config_dir))


async def _serve(client: Client, options: ControllerOptions, directory: Path) -> None:
    async with client:
        await until_signalled(run_ingress_controller(client, options, directory))
