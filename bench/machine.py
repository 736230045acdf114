"""A one-line description of the machine, printed with every benchmark."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> str:
    """CPU model, cores, memory, Python and key library versions."""
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024**2:.0f} GiB"
    import sqlalchemy
    from lxml import etree

    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.python_implementation()} "
        f"{platform.python_version()}; lxml {'.'.join(map(str, etree.LXML_VERSION))} "
        f"(libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))}); SQLAlchemy {sqlalchemy.__version__}"
    )
