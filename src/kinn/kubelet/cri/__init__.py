"""A read-only CRI view of the kubelet's own runtime, and crictl's way of printing it.

kinn's kubelet is its node's container runtime too (pause sandboxes and container processes), so
there is no containerd to ask with `crictl`. The kubelet serves instead what containerd's CRI
plugin would answer to ListPodSandbox, ListContainers, PodSandboxStatus and ContainerStatus, as
JSON on a unix socket (`--container-runtime-endpoint`), and `kinn node crictl` prints it as crictl
does: the introspection seed 003 does with `ctr` and seed 004 with `docker ps`.
"""
