"""Simulators: loopback peers that behave like real meters and devices."""
