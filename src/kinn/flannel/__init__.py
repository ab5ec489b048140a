"""flanneld for kinn: the kube subnet manager, the VXLAN and host-gw backends, and flannel's
masquerade/forward rules, as flannel v0.28 runs them (the etcd subnet lease mode is not built).

Public interface:
- `FlannelOptions`, `Flanneld` (`start()` → the node's Lease, `run()`, `stop()`), `run_flanneld(client, options)`;
  kernel work targets `FlannelOptions.netns` (None: the caller's namespace).
- `NetConfig`, `parse_net_config`, `load_net_config` (net-conf.json); `Lease`, `LeaseAttrs`;
  `render_subnet_env`, `node_to_lease` and the annotation names in `kinn.flannel.subnet`.
- `kinn.flannel.masq`: `masq_rules`, `forward_rules`, `render_restore`, `apply`.
"""

from kinn.flannel.daemon import FlannelOptions, Flanneld, run_flanneld
from kinn.flannel.subnet import (Lease, LeaseAttrs, NetConfig, load_net_config, node_to_lease, parse_net_config,
                                 render_subnet_env)

__all__ = ["FlannelOptions", "Flanneld", "Lease", "LeaseAttrs", "NetConfig", "load_net_config", "node_to_lease",
           "parse_net_config", "render_subnet_env", "run_flanneld"]
