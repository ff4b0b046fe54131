"""Tests of the engine's household runtime."""
