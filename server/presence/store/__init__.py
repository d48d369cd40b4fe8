"""Redis: key builders, Lua scripts (one file per operation) and their typed replies."""
