"""kube-scheduler: a scheduling queue, a framework of plugins, a cache of nodes and pods, and the loop."""
