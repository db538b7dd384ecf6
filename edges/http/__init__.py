"""The HTTP edge: health, admin, metrics, media and the web app (quart-trio)."""
