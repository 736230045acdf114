"""The emulated SMETS1 world behind the head ends: device models, meters, faults, operations."""
