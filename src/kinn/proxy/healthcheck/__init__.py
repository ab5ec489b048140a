"""kube-proxy's health checks (pkg/proxy/healthcheck): per-Service health check node ports and /healthz."""
