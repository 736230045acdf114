"""Reference data shipped with the service."""
