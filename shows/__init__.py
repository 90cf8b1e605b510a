"""Shows: the show file format, its validator and the player (see shows/README.md)."""
