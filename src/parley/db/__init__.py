"""Engine, declarative base, unit of work and the small generic repository."""
