"""Execution: the executor, its fork server and wire format, the staged pipeline, native coverage."""
