"""HTTP routes, one module per resource; ``hydria.api.app`` mounts them."""
