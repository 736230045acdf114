"""Wire codecs of the emulated SMSO head-end protocols, shared by front ends and adapters.

Every protocol carries the same thing: a device operation ``WireRequest(device_hex,
operation, params, nonce, tag)`` answered by a result object or a ``WireError(code,
message)`` (``formats.device_auth.ErrorCode``). Values are the JSON-like values of
``domain.operations`` and must survive every codec exactly, because both sides compute the
request's authentication tag from the parameters they see (``values.check_value``).

- ``json_v2``: ``s1-json/2``, JSON over HTTP with a batch form (IOC cohort);
- ``xml_v1``: ``s1-xml/1``, typed XML documents over HTTP (FOC cohort);
- ``binary_v1``: ``s1-bin/1``, length-prefixed MessagePack frames over TCP (MOC cohort).
"""
