"""`kinn trace`: one real probe followed through the kernel — nftables tracing, conntrack events and
VXLAN captures in every netns on its path — and printed hop by hop."""
