"""What the edge and the API both answer with: the error envelope, rendered."""
