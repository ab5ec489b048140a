"""The ADD result (spec 1.1 "Success"): interfaces, ips, routes, dns — parsed and serialised.

Results of 0.3.0–0.4.0 carry `"version": "4"` on each IP; 1.x dropped it. Both parse; to_dict
writes the form of the version asked for so older consumers read what they expect.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kinn.cni.errors import DECODING_FAILURE, CNIError


@dataclass
class Interface:
    name: str
    mac: str = ""
    mtu: int | None = None
    sandbox: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.mac:
            out["mac"] = self.mac
        if self.mtu:
            out["mtu"] = self.mtu
        if self.sandbox:
            out["sandbox"] = self.sandbox
        return out


@dataclass
class IPConfig:
    address: str  # CIDR: the interface address with its subnet's prefix (10.244.1.5/24)
    gateway: str | None = None
    interface: int | None = None  # index into Result.interfaces

    @property
    def version(self) -> int:
        return ipaddress.ip_interface(self.address).version

    def to_dict(self, legacy: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"version": str(self.version)} if legacy else {}
        if self.interface is not None:
            out["interface"] = self.interface
        out["address"] = self.address
        if self.gateway:
            out["gateway"] = self.gateway
        return out


@dataclass
class Route:
    dst: str
    gw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"dst": self.dst, **({"gw": self.gw} if self.gw else {})}


@dataclass
class Result:
    cni_version: str
    interfaces: list[Interface] = field(default_factory=list)
    ips: list[IPConfig] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    dns: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Result":
        try:
            return cls(
                cni_version=str(data.get("cniVersion", "")),
                interfaces=[Interface(i["name"], i.get("mac", ""), i.get("mtu"), i.get("sandbox", ""))
                            for i in data.get("interfaces") or []],
                ips=[IPConfig(_checked_cidr(i["address"]), i.get("gateway"), i.get("interface"))
                     for i in data.get("ips") or []],
                routes=[Route(_checked_cidr(r["dst"]), r.get("gw")) for r in data.get("routes") or []],
                dns=dict(data.get("dns") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CNIError(DECODING_FAILURE, "failed to parse CNI result", repr(exc)) from exc

    def to_dict(self, cni_version: str | None = None) -> dict[str, Any]:
        version = cni_version or self.cni_version
        out: dict[str, Any] = {"cniVersion": version}
        if self.interfaces:
            out["interfaces"] = [i.to_dict() for i in self.interfaces]
        out["ips"] = [ip.to_dict(legacy=is_legacy(version)) for ip in self.ips]
        if self.routes:
            out["routes"] = [r.to_dict() for r in self.routes]
        out["dns"] = self.dns
        return out


def is_legacy(version: str) -> bool:
    """True for the 0.x result format (IPs carry `version`)."""
    return version.startswith("0.")


def _checked_cidr(value: str) -> str:
    ipaddress.ip_interface(value)
    return value
