"""Correction tasks: their identity and their lifecycle."""
