"""Markdown for bench/RESULTS.md: tables, milliseconds, ratios and verdicts."""


def ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}x"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator and denominator else None


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict_max(value: float | None, limit: float, unit: str = "x") -> str:
    if value is None:
        return "not measured"
    if value <= limit:
        return "**met**"
    return f"**missed** by {value / limit:.1f}x ({value:.1f}{unit} vs at most {limit:g}{unit})"


def verdict_min(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    if value >= limit:
        return "**met**"
    return f"**missed**: {value:.1f}x vs at least {limit:g}x"
