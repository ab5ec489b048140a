"""Allocators for Service cluster IPs and node ports (pkg/registry/core/service/ipallocator, portallocator)."""
