"""LTX-2 video clips for the scenes of a script: the seed's public API (filled in as modules land)."""
