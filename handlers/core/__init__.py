"""Shared core of the Lambda handlers: models, block encoding, storage, spill, HTTP replies."""
