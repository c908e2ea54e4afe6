"""Plain aligned text tables for the terminal: the run summary and the sweep table share them,
with no dependency, so they read the same in any log."""


def format_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain aligned text table (no dependency, readable in any log)."""
    cells = [[_format_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _format_cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
