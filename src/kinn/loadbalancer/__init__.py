"""LoadBalancer Services on the underlay, as MetalLB's layer-2 mode does it on a LAN.

Two halves, like MetalLB's controller and speaker: the controller-manager side hands each
LoadBalancer Service an address from a pool on the node subnet (`pool`, `allocator`,
`provider`, behind the service controller's LoadBalancerProvider seam), and the node side makes
exactly one node answer ARP for each address (`election`, `speaker`, `arp`).
"""
