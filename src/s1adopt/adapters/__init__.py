"""The outside world behind the services' ports."""
