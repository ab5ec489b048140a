"""Local cluster lifecycle: a cluster config, the namespaces that make its nodes, `kinn up`/`kinn down`."""
