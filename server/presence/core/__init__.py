"""Pure, synchronous, deterministic presence rules.

Nothing here imports asyncio, redis or starlette, and nothing reads the clock: every
function that depends on time takes ``now`` (epoch seconds) as an argument.
"""
