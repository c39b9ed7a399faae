"""Request models (strict pydantic) and response views, one module per resource.

Response views are plain functions ``view(row) -> dict`` that produce exactly
the attributes Octavia's response types carry, with the same names, types,
defaults and null-versus-empty-list behaviour.
"""
