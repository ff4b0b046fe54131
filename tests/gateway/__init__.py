"""Tests of the add-on gateway."""
