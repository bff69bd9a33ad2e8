"""Bar charts drawn on the server as SVG: no script, no external file, readable without colour (each
bar carries its number, and the chart its own table for screen readers)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, LABELS = 640, 180, 36  # the drawing's size; the strip below it for the labels


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    href: str
    x: float
    y: float
    width: float
    height: float
    css: str = ""

    @property
    def middle(self) -> float:
        return self.x + self.width / 2

    @property
    def value_y(self) -> float:
        """Where the bar's number sits: just above it."""
        return max(self.y - 4, 12)


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def box(self) -> str:
        return f"0 0 {self.width} {self.height + LABELS}"

    @property
    def baseline(self) -> int:
        return self.height

    @property
    def label_y(self) -> int:
        return self.height + 16

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)


def bar_chart(title: str, values: list[tuple[str, int, str, str]]) -> Chart:
    """``values``: (label, number, link, css class) per bar, in order. The tallest bar fills the
    height; a zero keeps its place with no bar."""
    top = max((number for _, number, _, _ in values), default=0) or 1
    slot = WIDTH / max(len(values), 1)
    bars = []
    for n, (label, number, href, css) in enumerate(values):
        height = round((HEIGHT - 20) * number / top, 1)
        bars.append(
            Bar(
                label,
                number,
                href,
                round(n * slot + slot * 0.15, 1),
                HEIGHT - height,
                round(slot * 0.7, 1),
                height,
                css,
            )
        )
    return Chart(title, bars)
