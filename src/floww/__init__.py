"""floww SDK (userspace)."""
