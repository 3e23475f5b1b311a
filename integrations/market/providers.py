"""Where market data comes from.

A provider yields raw rows (a mapping of column name to value, with a row number
for error messages); ``integrations.market.imports`` validates and stores them.
Today there are two: a CSV file and the built-in demo data
(``integrations.market.demo``). MLS servers (RESO Web API) are replicated page by
page by ``integrations.feeds``, which stores each page through the same
``imports.listings_store`` with its cursor in one transaction.
"""

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from integrations.market.rows import (
    LISTING_COLUMNS,
    LISTING_REQUIRED_COLUMNS,
    MARKET_COLUMNS,
    MARKET_REQUIRED_COLUMNS,
)
from leads.errors import ApplicationError


class MarketDataUnavailable(ApplicationError):
    """The provider cannot be read at all (missing file, not text, no valid header)."""

    status_code = 400
    code = "market_data_unavailable"
    default_message = "The market data could not be read."


@dataclass(frozen=True)
class RawRow:
    number: int  # the row as a person would find it: the line in a CSV file (header = 1)
    values: Mapping[str, object]


class MarketDataProvider(Protocol):
    source: str  # stored on every row: "demo", "csv:<file>" (feeds: "reso:<name>")

    def market_rows(self) -> Iterator[RawRow]:
        """Monthly figures per location; columns as ``rows.MARKET_COLUMNS``."""
        ...

    def listing_rows(self) -> Iterator[RawRow]:
        """Listings; columns as ``rows.LISTING_COLUMNS``."""
        ...


def _column_name(header: str) -> str:
    return "_".join(header.strip().casefold().replace("-", " ").split())


class CsvFileProvider:
    """One CSV file (UTF-8, header row first) holding market rows or listing rows.

    Header names are matched case-insensitively ("Median Sale Price" is
    median_sale_price); unknown columns are ignored; blank lines are skipped.
    """

    def __init__(self, path: str | Path, *, source: str | None = None):
        self.path = Path(path)
        self.source = source or f"csv:{self.path.name}"

    def market_rows(self) -> Iterator[RawRow]:
        return self._rows(MARKET_COLUMNS, MARKET_REQUIRED_COLUMNS)

    def listing_rows(self) -> Iterator[RawRow]:
        return self._rows(LISTING_COLUMNS, LISTING_REQUIRED_COLUMNS)

    def _rows(self, columns: Mapping[str, str], required: tuple[str, ...]) -> Iterator[RawRow]:
        try:
            handle = self.path.open(newline="", encoding="utf-8-sig")
        except FileNotFoundError:
            raise MarketDataUnavailable(f"{self.path}: no such file.") from None
        except OSError as error:
            raise MarketDataUnavailable(f"{self.path}: cannot be read ({error.strerror or error}).") from None
        with handle:
            reader = csv.reader(handle)
            try:
                header = next(reader, None)
                if header is None:
                    raise MarketDataUnavailable(f"{self.path}: the file is empty; expected a header row.")
                names = [_column_name(name) for name in header]
                missing = [name for name in required if name not in names]
                if missing:
                    raise MarketDataUnavailable(
                        f"{self.path}: no valid header; missing column(s) {', '.join(missing)}. "
                        f"Expected columns: {', '.join(columns)}."
                    )
                for cells in reader:
                    if not any(cell.strip() for cell in cells):
                        continue
                    values = {name: cell for name, cell in zip(names, cells, strict=False) if name in columns}
                    yield RawRow(number=reader.line_num, values=values)
            except UnicodeDecodeError:
                raise MarketDataUnavailable(
                    f"{self.path}: not UTF-8 text (after row {reader.line_num}); save the file as UTF-8 CSV."
                ) from None
            except csv.Error as error:
                raise MarketDataUnavailable(f"{self.path}, row {reader.line_num}: {error}.") from None
