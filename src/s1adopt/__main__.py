"""Allow ``python -m s1adopt``."""

from s1adopt.entrypoints.cli import main

main()
