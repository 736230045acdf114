"""DUIS documents on the wire: enveloped XML signatures (``xmldsig``) and the signing keys and
X.509 certificates behind them (``certificates``)."""
