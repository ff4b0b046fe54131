"""Device drivers: one module (or small package) per device kind or protocol.

Every driver exposes the capability protocols from ``engine.capabilities``;
the planner and the guard never look past them.
"""
