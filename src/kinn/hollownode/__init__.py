"""Hollow nodes: simulated kubelets for control-plane tests and benchmarks (what KWOK does).

A hollow node is a Node object and its heartbeat, nothing else: no namespaces, no processes, no
packets. It registers itself, renews its Lease in `kube-node-lease`, and reports the pods bound
to it Running and Ready with an IP from its podCIDR; pods whose restartPolicy is not Always
complete after `job_duration` seconds. Deleting a pod is confirmed at once. Every hollow node
carries the label `kinn.io/hollow=true` and runtime `hollow://`, so nobody mistakes it for a real
node; real clusters never use them.
"""
