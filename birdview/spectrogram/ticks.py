"""Axis tick positions and labels for time (h:mm:ss or wall clock) and frequency (kHz)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

_TIME_STEPS = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)


def time_tick_step(span_s: float, max_ticks: int) -> float:
    for step in _TIME_STEPS:
        if span_s / step <= max_ticks:
            return step
    return _TIME_STEPS[-1] * math.ceil(span_s / (_TIME_STEPS[-1] * max_ticks))


def time_ticks(t0: float, t1: float, max_ticks: int, offset_s: float = 0.0) -> list[float]:
    """Tick positions (seconds into the file) on round clock values (file time + offset)."""
    step = time_tick_step(max(t1 - t0, 1e-6), max(max_ticks, 1))
    first = math.ceil((t0 + offset_s) / step) * step
    count = int((t1 + offset_s - first) / step) + 1
    return [first + i * step - offset_s for i in range(max(count, 0))]


def format_time(seconds: float, step: float = 1.0, start: datetime | None = None) -> str:
    """``h:mm:ss`` (with decimals when ticks are under a second apart), or wall clock when
    ``start`` is known. The time is rounded to the shown resolution before it is split into
    hours, minutes and seconds, so 59.996 s at 0.01 s reads ``0:01:00.00``, not ``0:00:59.00``."""
    decimals = 0 if step >= 1 else min(3, math.ceil(-math.log10(step) - 1e-9))
    if not math.isfinite(seconds):
        return "--:--:--"
    scale = 10**decimals
    if start is not None:
        moment = start + timedelta(seconds=seconds)
        # Round the moment itself (start may have its own fraction of a second), carrying upwards.
        unit_us = 1_000_000 // scale
        rounded_us = (moment.microsecond + unit_us // 2) // unit_us * unit_us
        moment = moment.replace(microsecond=0) + timedelta(microseconds=rounded_us)
        text = moment.strftime("%H:%M:%S")
        if decimals:
            text += f".{moment.microsecond // unit_us:0{decimals}d}"
        if step >= 3600 and moment.hour == 0 and moment.minute == 0:
            text = moment.strftime("%d %b ") + text
        return text
    units = math.floor(abs(seconds) * scale + 0.5)
    sign = "-" if seconds < 0 and units else ""
    whole, fraction = divmod(units, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    if decimals:
        text += f".{fraction:0{decimals}d}"
    return text


def nice_step(span: float, max_ticks: int) -> float:
    raw = span / max(max_ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def frequency_ticks_hz(f0: float, f1: float, max_ticks: int) -> list[float]:
    if f1 <= f0:
        return []
    step = nice_step(f1 - f0, max_ticks)
    first = math.ceil(f0 / step) * step
    return [first + i * step for i in range(int((f1 - first) / step) + 1)]


def format_khz(hz: float, step_hz: float) -> str:
    decimals = 0 if step_hz >= 1000 else (1 if step_hz >= 100 else 2)
    return f"{hz / 1000:.{decimals}f}"
