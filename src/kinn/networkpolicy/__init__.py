"""NetworkPolicy enforcement on each node (kinn's policy agent, as Calico's Felix or kube-router beside flannel)."""
