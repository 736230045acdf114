"""Use cases: one function per command, behind ports that adapters implement."""
