"""One module per emulated vendor; `base` holds what they share (faults, request log)."""
