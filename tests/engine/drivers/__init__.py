"""Tests for the charger drivers."""
