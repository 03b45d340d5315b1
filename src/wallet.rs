//! wallet: filled in by its own change.
