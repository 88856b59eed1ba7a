"""Parley: an HTTP backend for businesses that sell through chat."""

__version__ = "0.1.0"
