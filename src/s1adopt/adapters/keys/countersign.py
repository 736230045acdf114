"""The DCO's countersigning key (``services.duis.device_ports.CommandSigner``).

Rules: ECDSA P-256 over SHA-256 of the command digest, raw r||s (64 bytes); the key is the
DCO's own signing identity (``signing.identity_in(..., "dco", ...)``), never the S1SP's or
the DSP's, and is never logged.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from s1adopt.adapters.keys.signing import SigningIdentity

_ECDSA = ec.ECDSA(hashes.SHA256())


class Countersigner:
    """Countersigns with one identity's key; verifies with its certificate's public key."""

    def __init__(self, identity: SigningIdentity) -> None:
        self._key = identity.key
        public = identity.certificate.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        self._public = public

    def countersign(self, digest: bytes) -> bytes:
        """Raw r||s over ``digest``."""
        r, s = decode_dss_signature(self._key.sign(digest, _ECDSA))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, digest: bytes, signature: bytes) -> bool:
        """Whether ``signature`` countersigns ``digest``."""
        if len(signature) != 64:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        try:
            self._public.verify(encode_dss_signature(r, s), digest, _ECDSA)
        except InvalidSignature:
            return False
        return True
