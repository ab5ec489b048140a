"""The controller manager's controllers, one module each (pkg/controller in upstream)."""
