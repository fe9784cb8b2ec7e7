"""``birdview report``: one self-contained HTML page on a season, per species: detections by site
and date (a heat map) and by hour of day, the precision the verdicts give the model, the call
density (:mod:`birdview.season.density`), and a table per site.

Counts come from :func:`birdview.season.tables.detection_table` (so they equal the season's tables
and the Summary window's), the precision curve from :func:`birdview.review.summary.summarise`.
Plots are drawn with matplotlib's SVG canvas (no pyplot, no window) and embedded as inline SVG:
the file opens anywhere with nothing beside it.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from birdview.review.queue import sited
from birdview.review.summary import BAND, Review, SpeciesSummary, reviews, summarise
from birdview.season.density import (
    INTERVAL,
    RESAMPLES,
    Density,
    call_density,
    detections_in,
    site_precision,
    verdicts_on,
)
from birdview.season.events import NO_SITE, Scope, scope
from birdview.season.tables import detection_table
from birdview.store.paths import atomic_write
from birdview.store.project import Project, ProjectError
from birdview.store.selection import Selection, SelectionError


class ReportError(ValueError):
    """Nothing to report for what was asked; the message says why."""


@dataclass
class SpeciesReport:
    species: str
    common: str | None
    threshold: float
    #: (site, period, detections, confirmed, rejected, recorded_hours, per_hour) per site and date.
    by_date: pd.DataFrame
    #: The same per site and hour of the day.
    by_hour: pd.DataFrame
    #: One row per site: detections (rejected ones left out), rejected, recorded_hours, per_hour,
    #: verdicts (judged, on the detections) and precision (confirmed / judged).
    sites: pd.DataFrame
    summary: SpeciesSummary
    density: Density
    #: Where the verdicts of ``summary`` and ``density`` lie: the filter in words (None: everywhere).
    verdicts_in: str | None = None

    @property
    def detections(self) -> int:
        return int(self.by_date["detections"].sum())

    @property
    def rejected(self) -> int:
        return int(self.by_date["rejected"].sum())


@dataclass
class SeasonReport:
    project: Path
    model: str
    selection: str
    recorded_hours: float
    species: list[SpeciesReport]
    #: What was left out (recordings without a start time, not scored) and species without detections.
    notes: list[str]


# -- the numbers ----------------------------------------------------------------------------------


def _chosen_scope(project: Project, selection: Selection) -> Scope:
    chosen = scope(project, selection)
    if chosen.recordings:
        return chosen
    selection.check(sited(project))  # names the filter that matches nothing
    raise SelectionError(
        f"no recording in {selection.describe()} has a start time (in its file name), "
        "so none can be placed on a date or an hour"
    )


def _site_table(by_date: pd.DataFrame, precision: dict[str, tuple[int, int]]) -> pd.DataFrame:
    sums = by_date.groupby("site", sort=False)[["detections", "rejected", "recorded_hours"]].sum().reset_index()
    sums["per_hour"] = (sums["detections"] / sums["recorded_hours"]).where(sums["recorded_hours"] > 0)
    sums["verdicts"] = [precision.get(s, (0, 0))[1] for s in sums["site"]]
    sums["confirmed"] = [precision.get(s, (0, 0))[0] for s in sums["site"]]
    sums["precision"] = (sums["confirmed"] / sums["verdicts"]).where(sums["verdicts"] > 0)
    return sums


def species_report(
    project: Project,
    version: int,
    chosen: Scope,
    species: str,
    threshold: float | None = None,
    by_date: pd.DataFrame | None = None,
    by_hour: pd.DataFrame | None = None,
    given: Mapping[str, list[Review]] | None = None,
) -> SpeciesReport:
    """One species' numbers in the selection (``by_date``/``by_hour``: its rows of the season's
    tables, when they are already made)."""
    selection = chosen.selection
    if by_date is None:
        by_date = detection_table(project, version, selection, ("site", "date"), [species], threshold)
    if by_hour is None:
        by_hour = detection_table(project, version, selection, ("site", "hour"), [species], threshold)
    by_date = by_date[by_date["species"] == species].reset_index(drop=True)
    by_hour = by_hour[by_hour["species"] == species].reset_index(drop=True)
    found = detections_in(project, version, chosen, species, threshold)
    judged = verdicts_on(project, version, found, given)
    hours = float(by_date["recorded_hours"].sum())
    density = call_density(project, version, chosen, species, hours, threshold, found, judged)
    names = {code: common for code, common, _ in project.species_table()}
    return SpeciesReport(
        species,
        names.get(species),
        found.threshold,
        by_date,
        by_hour,
        _site_table(by_date, site_precision(chosen, judged)),
        summarise(project, version, species, found.threshold, selection=None if selection.everything else selection),
        density,
        None if selection.everything else selection.describe(),
    )


def season_report(
    project: Project,
    selection: Selection | None = None,
    species: Sequence[str] | None = None,
    threshold: float | None = None,
    version: int | None = None,
) -> SeasonReport:
    """The numbers of the report: every species with detections in the selection (or those
    given). ReportError when there is nothing to report, SelectionError when the filter matches
    no recording."""
    model = project.model(version) if version is not None else project.active_model()
    if model is None:
        raise ReportError("the project has no model: add one (birdview models --add) and score (birdview score)")
    selection = selection or Selection()
    chosen = _chosen_scope(project, selection)
    wanted = list(dict.fromkeys(species)) if species else None
    if wanted:
        unknown = [code for code in wanted if code not in model.classes]
        if unknown:
            raise ProjectError(f"model {model.label} does not predict {', '.join(unknown)}")
    by_date = detection_table(project, model.version, selection, ("site", "date"), wanted, threshold)
    raw = by_date.groupby("species")[["detections", "rejected"]].sum().sum(axis=1)
    codes = wanted or [code for code in model.classes if raw.get(code, 0) > 0]  # the model's order
    with_detections = [code for code in codes if raw.get(code, 0) > 0]
    where = f"in {selection.describe()} with model {model.label}"
    if not with_detections:
        cut = "the threshold given" if threshold is not None else "their thresholds"
        asked = f"of {', '.join(codes)} " if wanted else ""
        unscored = by_date.attrs.get("unscored", 0)
        raise ReportError(
            f"no detections {asked}{where} at {cut}"
            + (f" ({threshold:g})" if threshold is not None else "")
            + (f"; {unscored} recording(s) not scored by it yet (birdview score)" if unscored else "")
        )
    by_hour = detection_table(project, model.version, selection, ("site", "hour"), with_detections, threshold)
    notes = [f"no detections of {code} {where}" for code in codes if code not in with_detections]
    if by_date.attrs.get("undated"):
        notes.append(f"{by_date.attrs['undated']} recording(s) left out: no start time in the file name")
    if by_date.attrs.get("unscored"):
        notes.append(f"{by_date.attrs['unscored']} recording(s) not scored by the model")
    effort = by_date.drop_duplicates(["site", "period"])["recorded_hours"].sum()
    given = reviews(project, model.version)
    reports = [
        species_report(project, model.version, chosen, code, threshold, by_date, by_hour, given)
        for code in with_detections
    ]
    return SeasonReport(project.folder, model.label, selection.describe(), float(effort), reports, notes)


# -- plots ----------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


#: No date or creator in the SVG: the same numbers give the same page.
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def figure_svg(figure) -> str:
    """The figure as an inline <svg> element (its XML prologue left off; text kept as text)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def heat_map(report: SpeciesReport) -> str:
    """Detections by site (rows) and date (columns); grey where nothing was recorded."""
    table = report.by_date
    sites = sorted(table["site"].unique(), key=lambda s: (s == NO_SITE, s))
    days = pd.date_range(min(table["period"]), max(table["period"])).strftime("%Y-%m-%d").tolist()
    grid = table.pivot_table(index="site", columns="period", values="detections", aggfunc="sum")
    grid = grid.reindex(index=sites, columns=days)
    values = np.ma.masked_invalid(grid.to_numpy(dtype=np.float64))
    figure = _figure(min(14, max(5.5, 2.5 + 0.35 * len(days))), 1.6 + 0.35 * len(sites))
    axes = figure.add_subplot()
    from matplotlib import colormaps

    palette = colormaps["viridis"].with_extremes(bad="#dddddd")
    image = axes.imshow(values, aspect="auto", cmap=palette, interpolation="nearest", vmin=0)
    figure.colorbar(image, ax=axes, label="detections")
    axes.set_yticks(range(len(sites)), sites)
    step = max(1, len(days) // 20)
    axes.set_xticks(range(0, len(days), step), days[::step], rotation=60, ha="right", fontsize=8)
    axes.set_xlabel("date (grey: not recorded)", fontsize=8)
    if len(sites) * len(days) <= 300:
        middle = 0.5 * (values.max() if values.count() else 0)
        for (row, column), value in np.ndenumerate(grid.to_numpy()):
            if np.isfinite(value):
                colour = "black" if value > middle else "white"
                axes.text(column, row, int(value), ha="center", va="center", fontsize=7, color=colour)
    axes.set_title(f"{report.species}: detections by site and date", fontsize=9)
    return figure_svg(figure)


def diel_plot(report: SpeciesReport) -> str:
    """Detections by hour of day (bars) and per recorded hour (line); unrecorded hours shaded."""
    hours = [f"{h:02d}:00" for h in range(24)]
    sums = report.by_hour.groupby("period")[["detections", "recorded_hours"]].sum().reindex(hours, fill_value=0)
    figure = _figure(8, 2.8)
    axes = figure.add_subplot()
    for h, recorded in enumerate(sums["recorded_hours"]):
        if recorded <= 0:
            axes.axvspan(h - 0.5, h + 0.5, color="#eeeeee", lw=0)
    axes.bar(range(24), sums["detections"], color="#3a7ca5", label="detections")
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    axes.set_xlim(-0.5, 23.5)
    axes.set_xlabel("hour of day (recorder's clock; grey: not recorded)")
    axes.set_ylabel("detections")
    rate = axes.twinx()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_hour = np.where(sums["recorded_hours"] > 0, sums["detections"] / sums["recorded_hours"], np.nan)
    rate.plot(range(24), per_hour, "o-", color="#d1495b", ms=3, label="per recorded hour")
    rate.set_ylabel("per recorded hour")
    rate.set_ylim(bottom=0)
    axes.set_title(f"{report.species}: diel activity", fontsize=9)
    return figure_svg(figure)


def precision_plot(summary: SpeciesSummary) -> str:
    curve = summary.precision
    figure = _figure(6, 2.8)
    axes = figure.add_subplot()
    axes.fill_between(curve.thresholds, curve.low, curve.high, color="#3a7ca5", alpha=0.25, lw=0)
    axes.plot(curve.thresholds, curve.precision, color="#3a7ca5", label="precision at or above the threshold")
    x, y = summary.verdict_points()
    axes.scatter(x, y, s=8, color="#333333", label="verdicts (1 confirmed, 0 rejected)")
    axes.axvline(summary.threshold, color="#d1495b", ls="--", lw=1, label=f"threshold {summary.threshold:.2f}")
    axes.set_xlabel("score threshold")
    axes.set_ylabel("precision")
    axes.set_ylim(-0.05, 1.05)
    axes.legend(fontsize=7, loc="lower right")
    axes.set_title(f"{summary.species}: precision by threshold ({round(BAND * 100)} % band)", fontsize=9)
    return figure_svg(figure)


# -- the page -------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.note { color: #555; }
"""


def _text(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}f}"
    return str(value)


def html_table(rows: list[dict], columns: list[tuple[str, str, int]], css_class: str = "") -> str:
    """(key, heading, digits) ``columns`` of ``rows``; numbers right-aligned, missing as "—"."""
    head = "".join(f"<th>{html.escape(heading)}</th>" for _, heading, _ in columns)
    body = []
    for row in rows:
        cells = []
        for key, _, digits in columns:
            value = row.get(key)
            numeric = isinstance(value, (int, float, np.integer, np.floating)) or value is None
            cell = html.escape(_text(value, digits))
            cells.append(f'<td class="n">{cell}</td>' if numeric else f"<td>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    marked = f' class="{css_class}"' if css_class else ""
    return f"<table{marked}><tr>{head}</tr>{''.join(body)}</table>"


def _validated(summary: SpeciesSummary, verdicts_in: str | None = None) -> str:
    """The precision the logistic fit of the verdicts (on windows in ``verdicts_in``, the filter in
    words) gives at the threshold, in words."""
    counts = (
        f"{summary.verdicts_confirmed} confirmed and {summary.verdicts_rejected} rejected verdicts on the model's "
        f"detections of {summary.species} ({_where(verdicts_in)}, any score)"
    )
    if summary.precision is None:
        return f"{counts}: no precision yet, {summary.needs}."
    lo, hi = summary.reviewed_range
    t = summary.threshold
    if not lo - 1e-9 <= t <= hi + 1e-9:
        return f"{counts}: the threshold {t:.2f} is outside the reviewed scores ({lo:.2f}–{hi:.2f}), no estimate there."
    curve = summary.precision
    value = float(summary.precision_at(np.array([t]))[0])
    low = float(np.interp(t, curve.thresholds, curve.low))
    high = float(np.interp(t, curve.thresholds, curve.high))
    return (
        f"{counts}: precision at the threshold {t:.2f} is {value:.3f} "
        f"({round(BAND * 100)} % band {low:.3f}–{high:.3f}; logistic fit of the verdicts on the score). "
        + summary.threshold_message(0.9)
    )


def _where(verdicts_in: str | None) -> str:
    return "whole project" if verdicts_in is None else f"only those in {verdicts_in}"


def _density_table(density: Density) -> str:
    if not density.strata:
        return ""
    rows = [
        {
            "scores": f"{s.low:.3f}" if s.low == s.high else f"{s.low:.3f}–{s.high:.3f}",
            "detections": s.detections,
            "judged": s.judged,
            "confirmed": s.confirmed,
            "precision": s.precision,
        }
        for s in density.strata
    ]
    return html_table(
        rows,
        [
            ("scores", "score stratum", 0),
            ("detections", "detections", 0),
            ("judged", "verdicts", 0),
            ("confirmed", "confirmed", 0),
            ("precision", "precision", 3),
        ],
        "strata",
    )


DENSITY_NOTE = (
    '<p class="note">Detections are every window at or above the threshold, rejected ones included; the '
    "precision is estimated from the verdicts on them, taken as a random sample within each score stratum "
    "(quartiles of the detections' scores) and weighted by the stratum's share of the detections; the "
    f"interval is a stratified bootstrap ({round(100 * INTERVAL)} %, {RESAMPLES} resamples, seeded).</p>"
)

SITE_COLUMNS = [
    ("site", "site", 0),
    ("detections", "detections", 0),
    ("rejected", "rejected", 0),
    ("recorded_hours", "recorded hours", 2),
    ("per_hour", "detections per hour", 3),
    ("verdicts", "verdicts", 0),
    ("precision", "precision (confirmed / verdicts)", 3),
]


def _species_section(report: SpeciesReport) -> list[str]:
    name = f" ({report.common})" if report.common else ""
    density = report.density
    parts = [
        f'<h2 id="{html.escape(report.species)}">{html.escape(report.species + name)}</h2>',
        f"<p>Threshold {report.threshold:.2f}: {report.detections} detections kept, {report.rejected} rejected "
        f"by a verdict.</p>",
        heat_map(report),
        diel_plot(report),
        "<h3>Validated precision</h3>",
        f"<p>{html.escape(_validated(report.summary, report.verdicts_in))}</p>",
    ]
    if report.summary.precision is not None:
        parts.append(precision_plot(report.summary))
    parts += [
        "<h3>Call density</h3>",
        f'<p class="density">{html.escape(density.describe())} (verdicts: {_where(report.verdicts_in)}).</p>',
        DENSITY_NOTE if density.estimated else "",
        _density_table(density),
        "<h3>By site</h3>",
        html_table(_with_total(report.sites), SITE_COLUMNS, "sites"),
    ]
    return parts


def _with_total(sites: pd.DataFrame) -> list[dict]:
    rows = sites.to_dict("records")
    total = {key: sites[key].sum() for key in ("detections", "rejected", "recorded_hours", "verdicts", "confirmed")}
    total["site"] = "all sites"
    total["per_hour"] = total["detections"] / total["recorded_hours"] if total["recorded_hours"] > 0 else None
    total["precision"] = total["confirmed"] / total["verdicts"] if total["verdicts"] else None
    return [*rows, total]


OVERVIEW_COLUMNS = [
    ("species", "species", 0),
    ("common", "name", 0),
    ("threshold", "threshold", 2),
    ("detections", "detections", 0),
    ("rejected", "rejected", 0),
    ("per_hour", "detections per hour", 3),
    ("verdicts", "verdicts", 0),
    ("precision", "precision (stratified)", 3),
    ("calls", "estimated calls", 1),
    ("interval", "90 % interval", 0),
]


def _overview(report: SeasonReport) -> str:
    rows = []
    for item in report.species:
        density = item.density
        interval = density.calls_interval
        rows.append(
            {
                "species": item.species,
                "common": item.common or "",
                "threshold": item.threshold,
                "detections": item.detections,
                "rejected": item.rejected,
                "per_hour": item.detections / report.recorded_hours if report.recorded_hours else None,
                "verdicts": density.verdicts,
                "precision": density.precision,
                "calls": density.calls,
                "interval": f"{interval[0]:.1f}–{interval[1]:.1f}" if interval else "too few verdicts",
            }
        )
    return html_table(rows, OVERVIEW_COLUMNS, "species")


def render(report: SeasonReport) -> str:
    title = f"Season report: {report.project.name}"
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        f"<p>Project {html.escape(str(report.project))}, model {html.escape(report.model)}, "
        f"{html.escape(report.selection)}: {report.recorded_hours:.2f} recorded hours. Made {made}.</p>",
        *(f'<p class="note">{html.escape(note)}.</p>' for note in report.notes),
        "<h2>Species</h2>",
        _overview(report),
    ]
    for item in report.species:
        sections += _species_section(item)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n"
        + "\n".join(part for part in sections if part)
        + "\n</body></html>\n"
    )


def write_page(out: str | Path, text: str) -> Path:
    """Written whole or not at all (the store's :func:`atomic_write`, as every export is)."""
    out = Path(out)
    with atomic_write(out) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return out


def write_report(
    project: Project,
    out: str | Path,
    selection: Selection | None = None,
    species: Sequence[str] | None = None,
    threshold: float | None = None,
    version: int | None = None,
) -> SeasonReport:
    """Build the report and write it to ``out``; nothing is written when there is nothing to report."""
    report = season_report(project, selection, species, threshold, version)
    write_page(out, render(report))
    return report
