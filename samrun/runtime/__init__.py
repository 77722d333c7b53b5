"""Running functions: the Runtime API server, sandboxes, and instance pools."""
