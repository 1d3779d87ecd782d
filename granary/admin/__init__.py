"""Whole-installation operations that span the rooms: the demo, a bank's removal, credential rotation."""
