"""manage.py import_market_data FILE.csv: monthly market figures per location."""

from integrations.market.imports import market_data_import
from integrations.market.management.csv_import import CsvImportCommand
from integrations.market.rows import MARKET_COLUMNS


class Command(CsvImportCommand):
    kind = "market data"
    columns = MARKET_COLUMNS
    help = (
        "Import monthly market figures from a UTF-8 CSV file with a header row. One row per location "
        "and month; importing the same location and month again updates it. Bad rows are reported on "
        "stderr with their row number (the header is row 1) and the good rows are still imported."
    )

    def run_import(self, provider):
        return market_data_import(provider=provider)
