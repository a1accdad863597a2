"""current_datetime: the date, time and weekday now, in a named time zone (the model has no clock)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ganymede.apps.assistant.tools import Tool, ToolError


def current_datetime(timezone: str = "UTC", now: dt.datetime | None = None) -> dict[str, Any]:
    """Now in `timezone` (an IANA name like Europe/Paris, or 'local')."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    moment = now or dt.datetime.now(dt.UTC)
    if timezone.lower() == "local":
        local = moment.astimezone()
    else:
        try:
            local = moment.astimezone(ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ToolError(f"unknown time zone {timezone!r}; use an IANA name such as Europe/Paris or UTC") from None
    return {
        "iso": local.isoformat(timespec="seconds"),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M:%S"),
        "weekday": local.strftime("%A"),
        "timezone": timezone,
        "utc_offset": local.strftime("%z"),
    }


TOOL = Tool(
    name="current_datetime",
    description="The current date, time and weekday. Use it for questions about today, now, or dates relative "
    "to today.",
    parameters={
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "IANA time zone, e.g. Europe/Paris, or 'local' (default UTC)",
                "default": "UTC",
                "examples": ["UTC", "local", "Europe/Paris"],
            }
        },
        "required": [],
    },
    func=lambda timezone="UTC": current_datetime(timezone),
)
