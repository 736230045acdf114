"""The DUIS gateway: users, the checks every request passes, the non-device requests."""
