"""Typed definitions of what the server reads and writes (decisions 56, 57).

One set of :class:`msgspec.Struct` definitions gives decoding, validation and JSON
Schema: :mod:`~presence.defs.frames` (every frame a client sends), :mod:`~presence.defs.
outbound` (every frame the server sends), :mod:`~presence.defs.shared` (the objects
both carry, also used by the REST API's documents) and the ``rest_*`` modules (REST
request bodies, queries and answers). No web or store imports here.
"""
