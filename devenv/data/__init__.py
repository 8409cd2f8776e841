"""A running stack's data: golden templates, clones, spares, resets and Redis key removal."""
