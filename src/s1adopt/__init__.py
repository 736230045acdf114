"""s1adopt: Enrolment and Adoption of SMETS1 installations (migration, inventory, DUIS)."""

__version__ = "0.1.0"
