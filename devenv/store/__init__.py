"""devenv's private files under .devenv/: passwords, state, the resolved-stack cache."""
