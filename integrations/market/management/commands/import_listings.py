"""manage.py import_listings FILE.csv: listings on the market."""

from integrations.market.imports import listings_import
from integrations.market.management.csv_import import CsvImportCommand
from integrations.market.rows import LISTING_COLUMNS


class Command(CsvImportCommand):
    kind = "listings"
    columns = LISTING_COLUMNS
    help = (
        "Import listings from a UTF-8 CSV file with a header row. A listing is identified by its "
        "external_id within the source (--source, default csv:<file name>); importing it again "
        "updates it. Bad rows are reported on stderr with their row number (the header is row 1) "
        "and the good rows are still imported."
    )

    def run_import(self, provider):
        return listings_import(provider=provider)
