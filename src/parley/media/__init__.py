"""Media files: detection, storage and download."""
