"""presence: a real-time presence server for contact centers."""

__version__ = "0.1.0"
