"""Rendering: the only package that imports moderngl."""
