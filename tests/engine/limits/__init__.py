"""Tests of the DSO limit sources."""
