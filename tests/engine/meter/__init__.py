"""Tests of the P1 meter engine."""
