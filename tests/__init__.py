"""Tests of Stroomwijs."""
