"""Tests for the simulators."""
