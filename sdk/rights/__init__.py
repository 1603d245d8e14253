"""Data-subject rights and the account lifecycle (issue #7, docs/rights.md).

Submodules are imported on first use: ``import sdk`` stays cheap.
"""
