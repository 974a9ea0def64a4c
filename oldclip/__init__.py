"""oldclip: catch old conflict footage passed off as new."""

__version__ = "0.1.0"
