"""Committed generator output, one sub-package per vendor. Never edited by hand."""
