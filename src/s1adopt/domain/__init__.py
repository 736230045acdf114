"""Pure domain rules: standard library only, no I/O, no framework imports."""
