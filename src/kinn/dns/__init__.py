"""Cluster DNS (`kinn dns`): the Kubernetes DNS-Based Service Discovery schema, answered as CoreDNS's
kubernetes plugin answers it, from informer caches of Namespaces, Services and EndpointSlices.

records.py holds the cluster's names as lookup tables, answer.py turns one query into one response
(pure), watch.py keeps the tables current, server.py serves UDP and TCP with a cache of packed
answers, health.py the liveness and readiness endpoints.
"""
