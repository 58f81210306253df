"""Bitwidth plans from any searcher (to be written)."""
