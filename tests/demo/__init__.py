"""The demo: the browser test."""
