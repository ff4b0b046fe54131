"""Tests that run Stroomwijs inside a real Home Assistant."""
