"""The JSON log handler's shortcuts (decision 77) write the same as the long way: token
masking skips only text the pattern cannot match, and each line is one JSON object with
the time to the millisecond."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from presence.logs import TOKEN_PATTERN, JsonFormatter, redact

FRAGMENTS = ["agent A1 ", "Authorization: ", "authorization:", "Bearer ", "bearer", "BEARER ",
             "?token=", "&TOKEN=", '"token":"', '"Token" : "', "eyJ", "EYJ", "abc.def",
             "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJBMSJ9.c2ln", " ", '"', ".", "x", "tok", "en",
             # beyond ASCII, the pattern's ignoring case matches these to "i" and "k"
             "authorızation: ", "AUTHORİZATION:", "to\u212aen=", "?to\u212aen="]


def _record(msg: str, created: float) -> logging.LogRecord:
    record = logging.LogRecord("presence.connections", logging.INFO, __file__, 1, msg, None,
                               None)
    record.created = created
    return record


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join))
@example("authorızation: x").via("dotless i")
@example("?to\u212aen=x").via("Kelvin sign")
def test_redact_masks_exactly_what_the_pattern_masks(text: str) -> None:
    """Masking with the shortcut gives what the token pattern alone gives, for any text."""
    assert redact(text) == TOKEN_PATTERN.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_the_time_is_iso_utc_to_the_millisecond(created: float) -> None:
    """Each line's time is the record's creation time in ISO 8601 UTC, milliseconds
    truncated, whatever the previous line's second was."""
    formatter = JsonFormatter()
    formatter.format(_record("before", created - 1.5))  # another second first
    line = json.loads(formatter.format(_record("agent A1 connected", created)))
    second = int(created)
    expected = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert line["time"] == f"{expected}.{int((created - second) * 1000):03d}+00:00"
    assert abs(datetime.fromisoformat(line["time"]).timestamp() - created) < 0.001


def test_a_line_orjson_refuses_is_written_by_the_standard_encoder() -> None:
    """A message with a lone surrogate (orjson refuses it) is still one JSON line."""
    line = JsonFormatter().format(_record("bad \udc80 byte", 1_800_000_000.25))
    assert json.loads(line)["message"] == "bad \udc80 byte"
    assert json.loads(JsonFormatter().format(_record("plain", 1_800_000_000.25))) == {
        "time": "2027-01-15T08:00:00.250+00:00", "level": "info",
        "logger": "presence.connections", "message": "plain"}
