"""HPG rules of the built-in pack."""
