"""kube-proxy's nftables mode (pkg/proxy/nftables): one `ip kube-proxy` table, verdict maps, `nft -f` transactions."""
