"""The controller manager: every enabled controller over one shared informer factory, under a lease.

Controllers are named as kube-controller-manager's `--controllers` flag names them; `*` enables
all, `-name` disables one. Only the holder of the `kube-controller-manager` Lease runs them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from importlib import import_module

from kinn.client.informer import SharedInformerFactory, strip_managed_fields
from kinn.client.leaderelection import LeaderElectionTimings, LeaderElector
from kinn.client.rest import Client
from kinn.controllers.base import Controller, ControllerContext, ControllerManagerOptions

log = logging.getLogger("kinn.controller-manager")

# --controllers name → "module:Class" under kinn.controllers.
CONTROLLERS: dict[str, str] = {
    "replicationcontroller": "replication:ReplicationManager",
    "replicaset": "replicaset:ReplicaSetController",
    "deployment": "deployment:DeploymentController",
    "daemonset": "daemonset:DaemonSetsController",
    "statefulset": "statefulset:StatefulSetController",
    "job": "job:JobController",
    "cronjob": "cronjob:CronJobController",
    "ttl-after-finished": "ttlafterfinished:TTLAfterFinishedController",
    "endpoint": "endpoints:EndpointsController",
    "endpointslice": "endpointslice:EndpointSliceController",
    "garbagecollector": "garbagecollector:GarbageCollector",
    "namespace": "namespace:NamespaceController",
    "serviceaccount": "serviceaccount:ServiceAccountsController",
    "root-ca-cert-publisher": "rootcacertpublisher:RootCACertPublisher",
    "nodeipam": "nodeipam:NodeIPAMController",
    "nodelifecycle": "nodelifecycle:NodeLifecycleController",
    "persistentvolume-binder": "volume:PersistentVolumeBinderController",
    "resourcequota": "resourcequota:ResourceQuotaController",
    "disruption": "disruption:DisruptionController",
    "service-lb-controller": "service:ServiceController",
    "podgc": "podgc:PodGCController",
}


def enabled(names: list[str]) -> list[str]:
    """Resolve a --controllers list: `*` is all, `name` adds one, `-name` removes one."""
    chosen: list[str] = []
    for name in names:
        if name == "*":
            chosen.extend(n for n in CONTROLLERS if n not in chosen)
        elif name.startswith("-"):
            chosen = [n for n in chosen if n != name[1:]]
        elif name in CONTROLLERS and name not in chosen:
            chosen.append(name)
        elif name not in CONTROLLERS:
            raise ValueError(f'"{name}" is not in the list of known controllers')
    return chosen


def load(name: str) -> type[Controller]:
    module, _, cls = CONTROLLERS[name].partition(":")
    return getattr(import_module(f"kinn.controllers.{module}"), cls)


async def run_controllers(client: Client, options: ControllerManagerOptions) -> None:
    factory = SharedInformerFactory(client, strip_managed_fields)
    ctx = ControllerContext(client, factory, options)
    controllers = [load(name)(ctx) for name in enabled(options.controllers)]
    factory.start()
    log.info("starting controllers: %s", ", ".join(c.name for c in controllers))
    try:
        await asyncio.gather(*(c.run(options.concurrent_syncs) for c in controllers))
    finally:
        await factory.stop()


async def run_controller_manager(client: Client, options: ControllerManagerOptions, leader_elect: bool = True,
                                 timings: LeaderElectionTimings | None = None) -> None:
    if not leader_elect:
        await run_controllers(client, options)
        return
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    elector = LeaderElector.with_timings(client, "kube-controller-manager", identity, timings)
    while True:
        await elector.run(lambda: run_controllers(client, options))
