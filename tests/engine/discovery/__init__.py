"""Tests of device discovery."""
