"""Axis tick positions and labels for time (h:mm:ss or wall clock) and frequency (kHz, on a linear,
mel or log scale)."""

from __future__ import annotations

import math
from collections.abc import Callable
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


#: Labelled ticks of the mel and log scales, in the order they are given room: 1, then 5, then
#: 2 times a power of ten (0.1, 1, 10 kHz first). Minor ticks, unlabelled, go at the other digits.
_LABELLED_DIGITS = (1, 5, 2)
_MINOR_DIGITS = (3, 4, 6, 7, 8, 9)
#: The lowest labelled tick is 100 Hz (no bird is lower); minor ticks go down to 10 Hz.
_LOWEST_LABEL_DECADE = 2
_LOWEST_MINOR_DECADE = 1
#: Pixels between the evenly spaced ticks of a zoomed-in axis (as on the linear scale).
_PIXELS_PER_EVEN_TICK = 40


def _label_interval(position: float, label_px: float, length: float) -> tuple[float, float]:
    """Where a label centred on ``position`` is drawn, moved inside [0, length] at the ends."""
    low = min(max(position - label_px / 2, 0.0), max(length - label_px, 0.0))
    return low, low + label_px


def scale_frequency_ticks(
    f0: float,
    f1: float,
    to_px: Callable[[float], float],
    label_px: float,
    gap_px: float = 3.0,
    min_tick_px: float = 5.0,
) -> tuple[list[float], list[float]]:
    """Ticks of a frequency axis on a mel or log scale, as (labelled, minor) lists of Hz.

    Labels go at 0.1, 0.2, 0.5, 1, 2, 5, 10 kHz (and 0 Hz, and further decades) where they fit:
    ``to_px`` gives a frequency's distance in pixels from ``f0``'s end of the axis, and labels
    ``label_px`` high must stay ``gap_px`` apart, the ones at the ends moved inside the axis (the
    top label is never cut). Minor ticks go at the other digits (0.3, 0.4, 3, 4, 6, ...) where they
    are ``min_tick_px`` from every other tick. Zoomed in so far that fewer than two of those labels
    fit, the ticks are evenly spaced round numbers instead, as on a linear scale.
    """
    if not f1 > f0:
        return [], []
    length = to_px(f1) - to_px(f0)
    if length <= 0:
        return [], []
    tolerance = (f1 - f0) * 1e-9
    last_decade = math.ceil(math.log10(f1))

    def decades(lowest: int) -> range:
        return range(max(lowest, math.floor(math.log10(max(f0, 10.0)))), last_decade + 1)

    def inside(hz: float) -> bool:
        return f0 - tolerance <= hz <= f1 + tolerance

    def fitting(candidates: list[float]) -> list[float]:
        chosen: list[float] = []
        intervals: list[tuple[float, float]] = []
        for hz in candidates:
            if not inside(hz) or hz in chosen:
                continue
            low, high = _label_interval(to_px(hz) - to_px(f0), label_px, length)
            if all(high + gap_px <= a or low >= b + gap_px for a, b in intervals):
                chosen.append(hz)
                intervals.append((low, high))
        return chosen

    candidates = [float(d * 10**k) for d in _LABELLED_DIGITS for k in decades(_LOWEST_LABEL_DECADE)]
    labelled = fitting(candidates + ([0.0] if f0 <= tolerance else []))
    if len(labelled) < 3:  # zoomed in: round numbers evenly spaced, as on a linear scale
        even = fitting(frequency_ticks_hz(f0, f1, max(2, int(length / _PIXELS_PER_EVEN_TICK))))
        labelled = even if len(even) > len(labelled) else labelled
    positions = [to_px(hz) for hz in labelled]
    minor: list[float] = []
    for decade in decades(_LOWEST_MINOR_DECADE):
        for digit in _MINOR_DIGITS + _LABELLED_DIGITS:
            hz = float(digit * 10**decade)
            if not inside(hz) or hz in labelled:
                continue
            position = to_px(hz)
            if all(abs(position - other) >= min_tick_px for other in positions):
                minor.append(hz)
                positions.append(position)
    return sorted(labelled), sorted(minor)


def format_khz_short(hz: float) -> str:
    """kHz with as many decimals as the value needs: 0.1, 0.25, 1, 12."""
    return f"{round(hz / 1000, 4):g}"
