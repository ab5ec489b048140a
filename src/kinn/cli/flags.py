"""Flag value types shared by the commands, in the syntax Kubernetes components accept."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

import click

from kinn.loadbalancer.pool import AddressPool, PoolError

if TYPE_CHECKING:  # the client library is imported by the commands that need it
    from kinn.client.leaderelection import LeaderElectionTimings

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class Duration(click.ParamType):
    """Go's time.Duration syntax (`40s`, `5m`, `1h30m`, `500ms`), as `--node-monitor-grace-period` takes."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip()
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            self.fail(f"invalid duration {text!r} (e.g. 40s, 5m, 1h30m)", param, ctx)
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


DURATION = Duration()


class AddressPoolType(click.ParamType):
    """A range `10.240.0.200-10.240.0.250` or a CIDR `10.240.0.192/28`, as MetalLB's pools are written."""

    name = "range|cidr"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> AddressPool:
        if isinstance(value, AddressPool):
            return value
        try:
            return AddressPool.parse(str(value))
        except PoolError as error:
            self.fail(str(error), param, ctx)


ADDRESS_POOL = AddressPoolType()

# $KINN_CLUSTER_NAME as kind's $KIND_CLUSTER_NAME: `kinn lab` steps' `kinn node exec …` find their cluster by it.
CLUSTER_NAME = click.option("--name", default="kinn", show_default=True, envvar="KINN_CLUSTER_NAME",
                            help="The cluster's name ($KINN_CLUSTER_NAME).")


def leader_election_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """component-base's `--leader-elect-lease-duration/-renew-deadline/-retry-period` (defaults 15s/10s/2s)."""
    from kinn.client.leaderelection import LeaderElectionTimings

    defaults = LeaderElectionTimings()
    options = [
        click.option("--leader-elect-lease-duration", type=DURATION, default=f"{defaults.lease_duration:g}s",
                     show_default=True, help="How long a candidate waits after the last renewal before taking over."),
        click.option("--leader-elect-renew-deadline", type=DURATION, default=f"{defaults.renew_deadline:g}s",
                     show_default=True, help="How long the leader retries renewing before it stops leading."),
        click.option("--leader-elect-retry-period", type=DURATION, default=f"{defaults.retry_period:g}s",
                     show_default=True, help="The interval between attempts to acquire or renew the Lease."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def leader_election_timings(lease_duration: timedelta, renew_deadline: timedelta,
                            retry_period: timedelta) -> LeaderElectionTimings:
    from kinn.client.leaderelection import LeaderElectionTimings

    return LeaderElectionTimings(lease_duration.total_seconds(), renew_deadline.total_seconds(),
                                 retry_period.total_seconds())
