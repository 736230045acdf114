"""Emulated SMSO world: the fleet generator and the SMSO head-end emulators.

Rule: this package imports only ``s1adopt.formats``, ``s1adopt.domain`` and its own modules,
never services, adapters, entrypoints or bootstrap, so it stands for the outside world honestly.
"""
