"""The home page's bar charts, drawn server-side: month axes and the SVG geometry."""

from __future__ import annotations

from datetime import date

from dashboard.registry import BarChart


def month_starts(today: date, count: int = 12) -> list[date]:
    """The first day of this month and of the `count - 1` months after it."""
    months, year, month = [], today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at least `raw` (chart gridlines)."""
    magnitude = 1.0
    while magnitude * 10 <= raw:
        magnitude *= 10
    while magnitude > raw and magnitude > 1:
        magnitude /= 10
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def chart_geometry(chart: BarChart, *, width: int = 480, height: int = 250) -> dict:
    """Everything the SVG template needs: stacked bars, gridlines and labels, computed server-side."""
    left, right, top, bottom = 30, 4, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(chart.months)
    totals = [sum(series.values[i] for series in chart.series) for i in range(count)]
    peak = float(max(totals, default=0))
    step = _nice_step(max(peak / 4, 1))
    ceiling = step * max(1, -(-peak // step))
    slot = plot_w / max(count, 1)
    bar_w = slot * 0.62

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / ceiling

    bars = []
    for i, month in enumerate(chart.months):
        x, base, segments = left + slot * i + (slot - bar_w) / 2, 0.0, []
        for series in chart.series:
            value = float(series.values[i])
            if value:
                y = y_of(base + value)
                segments.append(
                    {
                        "y": round(y, 1),
                        "h": round(y_of(base) - y, 1),
                        "tone": series.tone,
                        "label": series.label,
                        "value": series.values[i],
                    }
                )
            base += value
        bars.append(
            {
                "x": round(x, 1),
                "w": round(bar_w, 1),
                "cx": round(x + bar_w / 2, 1),
                "month": month,
                "label": month.strftime("%b"),
                "year": month.year if (i == 0 or month.month == 1) else None,
                "total": totals[i],
                "segments": segments,
            }
        )
    ticks = []
    value = 0.0
    while value <= ceiling + 1e-9:
        ticks.append({"y": round(y_of(value), 1), "label": f"{value:g}"})
        value += step
    return {
        "chart": chart,
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "baseline": round(top + plot_h, 1),
        "label_y": height - 8,
        "bars": bars,
        "ticks": ticks,
        "empty": peak == 0,
        "rows": [
            {"month": month, "values": [series.values[i] for series in chart.series], "total": totals[i]}
            for i, month in enumerate(chart.months)
        ],
    }
