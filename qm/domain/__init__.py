"""Use cases of the application: plain functions over a session or engine. No web imports."""
