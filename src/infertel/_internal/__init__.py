"""Implementation details of infertel; nothing here is public API."""
