"""Small bar charts drawn as SVG on the server: no script, no CDN, nothing for the CSP to block.
Colours and fonts come from app.css through class names (no style attributes). Every chart has a
<title> and a text table next to it for screen readers and for print."""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    note: str = ""


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:.1f}" if isinstance(value, float) and not value.is_integer() else f"{int(value)}"
    return f"{text}{unit}"


def hbar_chart(bars: list[Bar], *, title: str, unit: str = "", label_width: int = 220, width: int = 640) -> SafeString:
    """Horizontal bars, one per row (a department per row): long Japanese labels fit on the left."""
    row, gap, top = 30, 8, 8
    height = top + len(bars) * (row + gap) + 8
    plot = width - label_width - 90
    peak = max([b.value or 0 for b in bars] + [1])
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="chart-title-{id(bars)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title-{id(bars)}">{escape(title)}</title>',
    ]
    for i, bar in enumerate(bars):
        y = top + i * (row + gap)
        length = 0 if not bar.value else max(2, round(plot * bar.value / peak))
        parts.append(
            f'<text class="chart-label" x="{label_width - 8}" y="{y + row / 2 + 5}" text-anchor="end">{escape(bar.label)}</text>'
        )
        parts.append(
            f'<rect class="chart-bar" x="{label_width}" y="{y}" width="{length}" height="{row}" rx="3"></rect>'
        )
        parts.append(
            f'<text class="chart-value" x="{label_width + length + 6}" y="{y + row / 2 + 5}">{escape(_fmt(bar.value, unit))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


TICK_FONT_PX = 13  # .chart-tick in app.css


def text_width(text: str, font_px: float = TICK_FONT_PX) -> float:
    """About how wide a label is drawn: a full-width (CJK) character is one em, the rest about 0.6 em."""
    return sum(font_px if ord(ch) >= 0x2E80 else font_px * 0.6 for ch in text)


def label_step(labels: list[str], slot: float, font_px: float = TICK_FONT_PX) -> int:
    """Label every Nth column so that no two labels under the columns overlap (N ≥ 1)."""
    widest = max([text_width(label, font_px) for label in labels] + [0])
    return max(1, math.ceil((widest + 4) / slot))


def column_chart(bars: list[Bar], *, title: str, width: int = 420, height: int = 200) -> SafeString:
    """Vertical columns over time (escalations per week), labels under the columns — every Nth when
    they would overlap (the values are in the table under "表で見る"). The view box is narrow so the
    text stays legible when a 390 px phone shrinks the chart."""
    left, bottom, top = 36, 40, 14
    plot_h = height - bottom - top
    n = max(len(bars), 1)
    slot = (width - left - 8) / n
    step = label_step([b.label for b in bars], slot)
    peak = max([b.value or 0 for b in bars] + [1])
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="chart-title-{id(bars)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title-{id(bars)}">{escape(title)}</title>',
        f'<line class="chart-axis" x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}"></line>',
        f'<text class="chart-tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{int(peak)}</text>',
        f'<text class="chart-tick" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, bar in enumerate(bars):
        h = 0 if not bar.value else max(2, round(plot_h * bar.value / peak))
        x = left + i * slot + slot * 0.15
        w = slot * 0.7
        parts.append(
            f'<rect class="chart-bar" x="{x:.1f}" y="{top + plot_h - h}" width="{w:.1f}" height="{h}" rx="2"></rect>'
        )
        if bar.value:
            parts.append(
                f'<text class="chart-value" x="{x + w / 2:.1f}" y="{top + plot_h - h - 4}" text-anchor="middle">{escape(_fmt(bar.value, ""))}</text>'
            )
        if (n - 1 - i) % step == 0:  # the latest week always keeps its label
            parts.append(
                f'<text class="chart-tick" x="{x + w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def column_pair_chart(
    labels: list[str],
    current: list[float | None],
    previous: list[float | None] | None,
    *,
    title: str,
    legend: tuple[str, str] = ("", ""),
    width: int = 640,
    height: int = 240,
) -> SafeString:
    """Columns over time with last year's column beside each (a fiscal year's months): this year in
    the solid colour, last year outlined, so the two stay apart in grey print too. A legend on top."""
    left, bottom, top = 36, 40, 34
    plot_h = height - bottom - top
    n = max(len(labels), 1)
    slot = (width - left - 8) / n
    values = [v or 0 for v in current] + [v or 0 for v in (previous or [])]
    peak = max([*values, 1])
    ident = f"chart-title-{id(labels)}"
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{ident}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}">{escape(title)}</title>',
        f'<line class="chart-axis" x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}"></line>',
        f'<text class="chart-tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{int(peak)}</text>',
        f'<text class="chart-tick" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    if previous is not None:
        parts += [
            f'<rect class="chart-bar chart-legend" x="{left}" y="6" width="14" height="14"></rect>',
            f'<text class="chart-tick" x="{left + 20}" y="18">{escape(legend[0])}</text>',
            f'<rect class="chart-bar-previous chart-legend" x="{left + 150}" y="6" width="14" height="14"></rect>',
            f'<text class="chart-tick" x="{left + 170}" y="18">{escape(legend[1])}</text>',
        ]
    for i, label in enumerate(labels):
        series = [("chart-bar", current[i])] + ([("chart-bar-previous", previous[i])] if previous is not None else [])
        w = slot * 0.8 / len(series)
        for k, (css, value) in enumerate(series):
            h = 0 if not value else max(2, round(plot_h * value / peak))
            x = left + i * slot + slot * 0.1 + k * w
            parts.append(
                f'<rect class="{css}" x="{x:.1f}" y="{top + plot_h - h}" width="{w - 1:.1f}" height="{h}"></rect>'
            )
        if current[i]:
            h = max(2, round(plot_h * current[i] / peak))
            x = left + i * slot + slot * 0.1 + w / 2
            parts.append(
                f'<text class="chart-value chart-value-small" x="{x:.1f}" y="{top + plot_h - h - 4}" '
                f'text-anchor="middle">{escape(_fmt(current[i], ""))}</text>'
            )
        parts.append(
            f'<text class="chart-tick" x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def labelled_bar_chart(bars: list[Bar], *, title: str, unit: str = "", width: int = 420) -> SafeString:
    """Horizontal bars with each label on its own line above its bar: long Japanese names (総務課
    防災・コミュニティ班) are never cut, and the chart stays legible in a phone's width."""
    # The label's line (its font's descent included) ends above the bar and its value: they never touch.
    row, bar_h, top, bar_top = 50, 16, 4, 26
    height = top + len(bars) * row + 4
    plot = width - 70
    peak = max([b.value or 0 for b in bars] + [1])
    ident = f"chart-title-{id(bars)}"
    parts = [
        f'<svg class="chart chart-labelled" role="img" aria-labelledby="{ident}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}">{escape(title)}</title>',
    ]
    for i, bar in enumerate(bars):
        y = top + i * row
        length = 0 if not bar.value else max(2, round(plot * bar.value / peak))
        parts.append(f'<text class="chart-label" x="0" y="{y + 16}">{escape(bar.label)}</text>')
        parts.append(
            f'<rect class="chart-bar" x="0" y="{y + bar_top}" width="{length}" height="{bar_h}" rx="2"></rect>'
        )
        parts.append(
            f'<text class="chart-value" x="{length + 6}" y="{y + bar_top + bar_h - 2}">{escape(_fmt(bar.value, unit))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
