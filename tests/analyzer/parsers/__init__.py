"""Parser tests."""
