"""In-tree plugins, one concern per module, and the default profile (apis/config/v1/default_plugins.go)."""
