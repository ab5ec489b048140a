"""kinn — Kubernetes in network namespaces."""

__version__ = "0.1.0"

# The Kubernetes release whose API kinn serves; `/version` reports it so that the version
# dispatcher in front of kubectl picks the matching client binary.
KUBERNETES_MAJOR = "1"
KUBERNETES_MINOR = "32"
