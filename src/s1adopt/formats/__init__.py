"""Bytes <-> domain: migration files, credential envelopes, head-end wire messages, reports."""
