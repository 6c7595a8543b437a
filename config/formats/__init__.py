"""Date and time formats of the back office, over the locale's (Django always localizes)."""
