"""Plain-text tables for the command lines' summaries."""


def format_table(rows: list[list[str]]) -> str:
    """Rows (the first one a header) as left-aligned columns two spaces apart; the last column is not padded."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows
    )
