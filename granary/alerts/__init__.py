"""Alerts that reach people: a bank's failed day, a quality gate, a deadline about to be or missed."""
