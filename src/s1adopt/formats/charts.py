"""Charts of a planned or a real migration programme, as PNG bytes (optionally also a file).

Rules:
- rendering touches no global state: no pyplot and no rcParams; each figure draws on its own
  Agg canvas, so charts can be made from any thread or worker;
- matplotlib is imported on first use, not when this module is imported (importing it reads
  its configuration and font cache);
- a ``path`` is written atomically: a temporary file in the same directory, renamed over it;
- days are on the x axis as dates; counts read as 250k, 1.5M.
The planner's result is described here by protocols, so formats need not import services.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from s1adopt.domain.programme import PartyDayCounts

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH_INCHES, PANEL_INCHES, DPI = 11.0, 2.6, 100  # 1100 pixels wide, 260 high a panel
MAX_PARTIES_SHOWN = 8  # more parties than this: the smallest are drawn together as "others"

COMMISSIONED, EXCLUDED, FAILED, STRANDED = "#2a9d8f", "#e76f51", "#f4a261", "#8d6cab"
BACKLOG, ATTEMPTS, COMPLETE = "#264653", "#457b9d", "#1d3557"


class PlanDayFigures(Protocol):
    """One day of a planned programme (``services.planner.PlanDay`` has these)."""

    @property
    def day(self) -> date: ...
    @property
    def attempted(self) -> int: ...
    @property
    def commissioned(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def excluded(self) -> int: ...
    @property
    def backlog(self) -> int: ...
    @property
    def pending(self) -> int: ...
    @property
    def stranded(self) -> int: ...
    @property
    def cumulative_commissioned(self) -> int: ...
    @property
    def cumulative_excluded(self) -> int: ...


class PlanFigures(Protocol):
    """A planned programme (``services.planner.PlanResult`` has these)."""

    @property
    def days(self) -> Sequence[PlanDayFigures]: ...
    @property
    def completion_date(self) -> date | None: ...


def plan_chart(
    result: PlanFigures, path: Path | None = None, title: str = "Planned migration programme"
) -> bytes:
    """A PNG of a planned programme: cumulative commissioned; cumulative excluded and
    stranded; the backlog; each day's attempts by outcome; the completion date marked on every
    panel."""
    figure, (settled, lost, backlog, daily) = _figure(4)
    days = result.days
    if not days:
        _nothing_to_show(figure, title)
        return _png(figure, path)
    x = _dates([d.day for d in days])
    settled.plot(
        x, [d.cumulative_commissioned for d in days], color=COMMISSIONED, label="commissioned"
    )
    settled.set_title("Commissioned (cumulative)", loc="left")
    # excluded and stranded are a few percent of the fleet: their own panel keeps them legible
    lost.plot(x, [d.cumulative_excluded for d in days], color=EXCLUDED, label="excluded")
    lost.plot(x, [d.stranded for d in days], color=STRANDED, label="stranded (data never fixed)")
    lost.set_title("Excluded and stranded (cumulative)", loc="left")
    backlog.plot(x, [d.backlog for d in days], color=BACKLOG, label="backlog")
    pending = [d.pending for d in days]
    backlog.plot(x, pending, color=BACKLOG, linestyle="--", label="pending (to attempt or retry)")
    backlog.set_title("Backlog: neither commissioned nor excluded (end of day)", loc="left")
    daily.stackplot(
        x,
        [d.commissioned for d in days],
        [d.failed for d in days],
        [d.excluded for d in days],
        labels=["commissioned", "failed (retry or data fix)", "excluded"],
        colors=[COMMISSIONED, FAILED, EXCLUDED],
        step="post",
    )
    daily.set_title("Attempts per migration day, by outcome", loc="left")
    done = result.completion_date
    if done is not None:
        mark = _dates([done])[0]
        for axes in (settled, lost, backlog, daily):
            axes.axvline(mark, color=COMPLETE, linestyle=":", linewidth=1.5)
        backlog.annotate(
            f"complete {done.isoformat()}",
            xy=(mark, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-4, -4),
            textcoords="offset points",
            ha="right",
            va="top",
            color=COMPLETE,
        )
        figure.suptitle(f"{title}: complete on {done:%d %B %Y} after {len(days):,} days")
    else:
        figure.suptitle(f"{title}: not complete after {len(days):,} days")
    for axes in (settled, lost, backlog, daily):
        _decorate(axes)
    daily.set_xlabel("migration day")
    return _png(figure, path)


def progress_chart(
    days: Sequence[PartyDayCounts], path: Path | None = None, title: str = "Migration progress"
) -> bytes:
    """A PNG of the real programme's progress: cumulative commissioned per party (when there
    are more than ``MAX_PARTIES_SHOWN``, those that commissioned least drawn together), the
    backlog over all parties (a party's last figure carried over days it did not report), and
    each day's failed and excluded installations (excluded in validation included)."""
    figure, (settled, backlog, daily) = _figure(3)
    if not days:
        _nothing_to_show(figure, title)
        return _png(figure, path)
    dates = sorted({d.day for d in days})
    index = {day: i for i, day in enumerate(dates)}
    commissioned: dict[str, list[int]] = defaultdict(lambda: [0] * len(dates))
    backlog_of: dict[str, list[int | None]] = defaultdict(lambda: [None] * len(dates))
    failed, excluded = [0] * len(dates), [0] * len(dates)
    for counts in days:
        i, party = index[counts.day], str(counts.party)
        commissioned[party][i] += counts.commissioned
        backlog_of[party][i] = (backlog_of[party][i] or 0) + counts.backlog
        failed[i] += counts.failed
        excluded[i] += counts.excluded + counts.excluded_in_validation
    x = _dates(dates)
    labels, series = _largest_parties({p: _running_total(v) for p, v in commissioned.items()})
    settled.stackplot(x, *series, labels=labels)
    settled.set_title("Commissioned installations by party (cumulative)", loc="left")
    backlog.plot(x, _total_carried(list(backlog_of.values())), color=BACKLOG, label="backlog")
    backlog.set_title("Backlog: authorised, neither commissioned nor excluded", loc="left")
    daily.plot(x, failed, color=FAILED, label="failed", drawstyle="steps-post")
    daily.plot(x, excluded, color=EXCLUDED, label="excluded", drawstyle="steps-post")
    daily.set_title("Failed and excluded per migration day", loc="left")
    figure.suptitle(f"{title}: {dates[0]:%d %b %Y} to {dates[-1]:%d %b %Y}")
    for axes in (settled, backlog, daily):
        _decorate(axes)
    daily.set_xlabel("migration day")
    return _png(figure, path)


def _figure(panels: int) -> tuple[Figure, Sequence[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = (WIDTH_INCHES, PANEL_INCHES * panels + 0.5)
    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # its own canvas: no backend chosen globally
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    return figure, list(axes)


def _dates(days: Sequence[date]) -> np.ndarray[tuple[int], np.dtype[np.datetime64]]:
    import numpy as np

    return np.array(days, dtype="datetime64[D]")


def _decorate(axes: Axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.yaxis.set_major_formatter(_counts())
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.set_ylabel("installations")
    _legend(axes, *axes.get_legend_handles_labels())


def _legend(axes: Axes, handles: Sequence[Artist], labels: Sequence[str]) -> None:
    """The legend to the right of the panel, outside the plot."""
    axes.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        frameon=False,
    )


def _counts() -> FuncFormatter:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(_count_label)


def _count_label(value: float, _position: float | None = None) -> str:
    """250, 12.5k, 1.5M: counts a reader takes in at a glance."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def _nothing_to_show(figure: Figure, title: str) -> None:
    figure.suptitle(title)
    for axes in figure.axes:
        axes.set_axis_off()
    figure.text(0.5, 0.5, "no migration days to show", ha="center", va="center", fontsize=14)


def _running_total(values: Sequence[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += value
        out.append(total)
    return out


def _largest_parties(cumulative: dict[str, list[int]]) -> tuple[list[str], list[list[int]]]:
    """At most ``MAX_PARTIES_SHOWN`` series: the largest parties, then the rest as "others"."""
    ranked = sorted(cumulative, key=lambda p: (-cumulative[p][-1], p))
    if len(ranked) <= MAX_PARTIES_SHOWN:
        return ranked, [cumulative[p] for p in ranked]
    shown, rest = ranked[: MAX_PARTIES_SHOWN - 1], ranked[MAX_PARTIES_SHOWN - 1 :]
    others = [sum(values) for values in zip(*(cumulative[p] for p in rest), strict=True)]
    return [*shown, f"{len(rest)} other parties"], [*(cumulative[p] for p in shown), others]


def _total_carried(per_party: Sequence[Sequence[int | None]]) -> list[int]:
    """The sum over parties, a party's last figure carried over the days it did not report."""
    totals = [0] * (len(per_party[0]) if per_party else 0)
    for series in per_party:
        last = 0
        for i, value in enumerate(series):
            last = last if value is None else value
            totals[i] += last
    return totals


def _png(figure: Figure, path: Path | None) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    data = buffer.getvalue()
    if path is not None:
        write_atomically(path, data)
    return data


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never a part."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
