"""Conversions between two served views of one stored object (upstream pkg/apis/<group>/<v>/conversion.go)."""
