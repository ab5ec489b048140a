"""kube-proxy: Services and EndpointSlices turned into each node's packet-rewriting rules."""
