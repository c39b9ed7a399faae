"""Who is calling: the request context (noauth for now; Keystone later)."""
