"""Helpers for PhonicFlow's test suites: real processes, a real Redis, synthetic speech.

Loaded as a pytest plugin (``-p phonicflow_testing.plugin`` in the root pyproject), so every
suite gets the fixtures in :mod:`phonicflow_testing.plugin`; the functions below can be imported
directly (``from phonicflow_testing import free_port, ServiceProcess, speech``).
"""

from phonicflow_testing.processes import ServiceProcess, eventually, free_port, wait_for_port

__all__ = ["ServiceProcess", "eventually", "free_port", "wait_for_port"]
