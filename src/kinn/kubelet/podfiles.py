"""The files the kubelet manages for every container: /etc/hosts, /etc/resolv.conf, /etc/hostname.

Their contents follow the kubelet (kubelet_pods.go managedHostsFileContent, dns.go) so a pod sees
what it sees on any Kubernetes node; they live in the pod's directory and are bind-mounted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

Obj = dict[str, Any]
HOST_RESOLV_CONF = Path("/etc/resolv.conf")
NDOTS = 5


def pod_hostname(pod: Obj) -> str:
    """spec.hostname or the pod name, cut to 63 characters (a DNS label), as GeneratePodHostNameAndDomain;
    a hostNetwork pod has its node's (it shares the node's UTS namespace)."""
    if pod["spec"].get("hostNetwork"):
        return pod["spec"].get("nodeName", "")
    return (pod["spec"].get("hostname") or pod["metadata"]["name"])[:63].rstrip("-.")


def hosts_file(pod: Obj, pod_ips: list[str], cluster_domain: str) -> str:
    """The Kubernetes-managed hosts file: localhost entries, the pod's IPs and name, then hostAliases."""
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    hostname, subdomain = pod_hostname(pod), pod["spec"].get("subdomain")
    namespace = pod["metadata"]["namespace"]
    for ip in pod_ips:
        if subdomain:
            lines.append(f"{ip}\t{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}\t{hostname}")
        else:
            lines.append(f"{ip}\t{hostname}")
    aliases = pod["spec"].get("hostAliases") or []
    if aliases:
        lines += ["", "# Entries added by HostAliases."]
        lines += [f"{alias['ip']}\t{chr(9).join(alias.get('hostnames') or [])}" for alias in aliases]
    return "\n".join(lines) + "\n"


def _host_resolv() -> tuple[list[str], list[str], list[str]]:
    """The node's nameservers, search domains and options (for dnsPolicy Default)."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    text = HOST_RESOLV_CONF.read_text() if HOST_RESOLV_CONF.exists() else ""
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(("#", ";")):
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            nameservers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]
        elif fields[0] == "options":
            options += fields[1:]
    return nameservers, searches, options


def resolv_conf(pod: Obj, cluster_dns: list[str], cluster_domain: str) -> str:
    """resolv.conf per dnsPolicy: ClusterFirst → cluster DNS with the `<ns>.svc.<domain>` search path
    and ndots:5; Default (or ClusterFirst without --cluster-dns, as the kubelet falls back) → the
    node's; None → only dnsConfig. dnsConfig is merged in last, options by name."""
    spec = pod["spec"]
    policy = spec.get("dnsPolicy", "ClusterFirst")
    if spec.get("hostNetwork") and policy == "ClusterFirst":
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and cluster_dns:
        namespace = pod["metadata"]["namespace"]
        nameservers = list(cluster_dns)
        searches = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
        options = [f"ndots:{NDOTS}"]
    elif policy == "None":
        nameservers, searches, options = [], [], []
    else:
        nameservers, searches, options = _host_resolv()
    config = spec.get("dnsConfig") or {}
    nameservers += [n for n in config.get("nameservers") or [] if n not in nameservers]
    searches += [s for s in config.get("searches") or [] if s not in searches]
    options = _merge_options(options, config.get("options") or [])
    lines = []
    if searches:
        lines.append("search " + " ".join(searches))
    lines += [f"nameserver {n}" for n in nameservers]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def _merge_options(options: list[str], extra: list[Obj]) -> list[str]:
    """dnsConfig options override same-named ones (`ndots:2` replaces `ndots:5`)."""
    merged = {option.split(":", 1)[0]: option for option in options}
    for option in extra:
        name = option["name"]
        merged[name] = f"{name}:{option['value']}" if option.get("value") is not None else name
    return list(merged.values())


def write_pod_files(directory: Path, pod: Obj, pod_ips: list[str], cluster_dns: list[str],
                    cluster_domain: str) -> dict[str, Path]:
    """Write etc-hosts, resolv.conf and hostname into the pod's directory; returns container path → file."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {"/etc/hosts": ("etc-hosts", hosts_file(pod, pod_ips, cluster_domain)),
             "/etc/resolv.conf": ("resolv.conf", resolv_conf(pod, cluster_dns, cluster_domain)),
             "/etc/hostname": ("hostname", pod_hostname(pod) + "\n")}
    written = {}
    for container_path, (name, content) in files.items():
        path = directory / name
        path.write_text(content)
        written[container_path] = path
    return written
