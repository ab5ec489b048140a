"""Where the kubelet's pods come from besides the API server (pkg/kubelet/config): the file source."""
