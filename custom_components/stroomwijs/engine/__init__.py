"""The Stroomwijs engine: typed, asynchronous and free of Home Assistant.

Everything that measures, decides or talks to devices lives here, so that the
Home Assistant integration, the always-on add-on gateway and the ``stroomwijs``
command line all run the very same code. Nothing in this package may import
``homeassistant``; ``tests/test_engine_isolation.py`` enforces that.
"""
