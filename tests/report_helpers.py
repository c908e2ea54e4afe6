"""Reading an HTML report as a person sees it: the tables of one of its sections."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd


class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts (header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def section_tables(page: str, anchor: str) -> list[pd.DataFrame]:
    """The tables of the report section `anchor`, cells as the text shown (header row as
    the columns)."""
    body = page[page.index(f'<section id="{anchor}">'):]
    parser = _Tables()
    parser.feed(body[:body.index("</section>")])
    return [pd.DataFrame(rows[1:], columns=rows[0]) for rows in parser.tables if rows]
