"""Benchmarks: ``make bench`` (or ``python -m bench``) prints figures and writes them as JSON.

Targets for speed and memory live here, never in timed tests.
"""
