"""A supervisor's free text (``note``): plain text a person wrote, never a system word.

A forced change's ``reason`` is always a word of :class:`presence.core.model.Reason`
(``supervisor``); what the supervisor typed travels beside it as ``note``. A note may not
hold control characters (C0/C1, line and paragraph separators) nor bidirectional
formatting characters (embeddings, overrides, isolates, marks): shown in a supervisor's
list or a report, those can hide or reorder what follows them. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata

#: Characters a note may hold at most (after surrounding whitespace is removed).
MAX_NOTE_LENGTH = 500

#: Bidirectional formatting characters (Unicode's Bidi_Control property).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def note_problem(text: str) -> str | None:
    """Why ``text`` cannot be a note, or ``None`` when it can (checked as given)."""
    if len(text) > MAX_NOTE_LENGTH:
        return f"at most {MAX_NOTE_LENGTH} characters"
    for ch in text:
        if ch in BIDI_CONTROLS:
            return f"no bidirectional formatting characters (found U+{ord(ch):04X})"
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return f"no control characters (found U+{ord(ch):04X})"
    return None


def clean_note(text: str) -> str | None:
    """``text`` without surrounding whitespace, ``None`` when nothing is left. Call only
    on a text :func:`note_problem` accepted."""
    stripped = text.strip()
    return stripped or None
