"""kube-proxy's userspace mode (Kubernetes 1.0/1.1, seed 000): iptables sends Service traffic to a
socket of the proxy, which opens a second connection to a backend and copies bytes between them."""
