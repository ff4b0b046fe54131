"""Tests of the household planner."""
