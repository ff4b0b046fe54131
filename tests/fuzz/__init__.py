"""Fuzz corpus and property tests over the P1 decoder and the guard."""
