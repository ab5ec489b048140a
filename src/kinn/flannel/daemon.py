"""flanneld's main sequence (flannel's main.go) in kube subnet manager mode:

sync the node informer → find the external interface → set up the backend device → acquire the
lease (annotate the Node) → configure the device → drop entries of nodes gone meanwhile → write
subnet.env → install the iptables rules → report NetworkUnavailable=False → then, until
cancelled, apply lease events and re-install rules something removed.

The API connection lives in the process's own namespace; kernel work targets `options.netns`
(None: the process's own, as when flanneld runs inside its node).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from kinn.client.rest import Client
from kinn.flannel import masq
from kinn.flannel.backends import Netns, Network, find_external_interface, new_network
from kinn.flannel.kube import KubeSubnetManager, LeaseError
from kinn.flannel.subnet import DEFAULT_SUBNET_FILE, Lease, LeaseAttrs, NetConfig, render_subnet_env, write_subnet_env

log = logging.getLogger("kinn.flannel")


@dataclass
class FlannelOptions:
    node_name: str
    net_config: NetConfig
    iface: str | None = None  # name or IP of the underlay interface; None: the default route's
    public_ip: str | None = None  # what other nodes use to reach this one; None: the iface's address
    subnet_file: Path = DEFAULT_SUBNET_FILE
    ip_masq: bool = False
    iptables_forward_rules: bool = True
    iptables_resync: float = 5.0  # seconds between checks that the rules are still there
    lease_retry: float = 0.1  # seconds between looks at the (cached) Node while it has no podCIDR yet
    netns: Netns = None


class Flanneld:
    def __init__(self, client: Client, options: FlannelOptions) -> None:
        self.client = client
        self.options = options
        self.subnet_manager = KubeSubnetManager(client, options.node_name, options.net_config)
        self.network: Network | None = None
        self.lease: Lease | None = None
        self.rules: list[masq.Rule] = []

    async def start(self) -> Lease:
        """Bring the node's pod network up; returns its lease. Idempotent across restarts."""
        options = self.options
        await self.subnet_manager.start()
        await self.subnet_manager.wait_for_node(options.lease_retry)
        ext = await asyncio.to_thread(find_external_interface, options.iface, options.public_ip, options.netns)
        log.info("using interface %s with address %s (public ip %s)", ext.name, ext.address, ext.public_ip)
        self.network = network = new_network(options.net_config, ext, options.netns)
        attrs = await asyncio.to_thread(network.register, self.subnet_manager.stored_vtep_mac())
        self.lease = lease = await self._acquire(attrs)
        await asyncio.to_thread(network.configure, lease)
        keep = {known.subnet for known in self.subnet_manager.leases()} | {lease.subnet}
        await asyncio.to_thread(network.prune, keep)
        write_subnet_env(options.subnet_file, render_subnet_env(options.net_config.network, lease.subnet,
                                                                network.mtu, options.ip_masq))
        self.rules = self._rules(lease)
        if self.rules:
            await asyncio.to_thread(masq.apply, self.rules, options.netns)
        await self.subnet_manager.complete_lease()
        log.info("lease %s acquired; wrote %s", lease.subnet, options.subnet_file)
        return lease

    async def _acquire(self, attrs: LeaseAttrs) -> Lease:
        """AcquireLease, retried while the node is not registered or has no podCIDR yet."""
        reported = ""
        while True:
            try:
                return await self.subnet_manager.acquire_lease(attrs)
            except LeaseError as exc:
                if str(exc) != reported:  # once per reason, not once per look
                    log.info("waiting for a lease: %s", exc)
                    reported = str(exc)
                await asyncio.sleep(self.options.lease_retry)

    def _rules(self, lease: Lease) -> list[masq.Rule]:
        network = self.options.net_config.network
        rules = masq.masq_rules(network, lease.subnet) if self.options.ip_masq else []
        return rules + (masq.forward_rules(network) if self.options.iptables_forward_rules else [])

    async def run(self) -> None:
        """Apply lease events and keep the rules installed, until cancelled."""
        await asyncio.gather(self._watch_leases(), self._resync_rules())

    async def _watch_leases(self) -> None:
        assert self.network is not None, "start() first"
        while True:
            event = await self.subnet_manager.events.get()
            try:
                await asyncio.to_thread(self.network.handle, event)
            except Exception:  # one bad lease must not stop the others' updates
                log.exception("applying %s of lease %s failed", event.type.value, event.lease.subnet)

    async def _resync_rules(self) -> None:
        while self.rules:
            await asyncio.sleep(self.options.iptables_resync)
            if not await asyncio.to_thread(masq.rules_present, self.rules, self.options.netns):
                log.info("iptables rules missing; re-applying them")
                await asyncio.to_thread(masq.apply, self.rules, self.options.netns)

    async def stop(self) -> None:
        await self.subnet_manager.stop()


async def run_flanneld(client: Client, options: FlannelOptions) -> None:
    """Start flanneld and serve until cancelled."""
    flanneld = Flanneld(client, options)
    try:
        await flanneld.start()
        await flanneld.run()
    finally:
        await flanneld.stop()
