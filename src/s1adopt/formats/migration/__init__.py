"""The s1adopt migration data file (project-defined, versioned XML schema)."""

NAMESPACE_V1 = "urn:s1adopt:migration:v1"
SUPPORTED_MAJOR_VERSION = "1"
