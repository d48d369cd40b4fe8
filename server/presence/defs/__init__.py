"""Typed definitions of what the server reads and writes (decision 57): msgspec structs
that decode and validate, and from which the API documents are generated."""
