"""Readers and writers for lifecircle's inputs and outputs."""
