"""What the two CSV import commands share: arguments, help, output and exit status."""

import textwrap
from collections.abc import Mapping

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from integrations.market.imports import ImportSummary
from integrations.market.providers import CsvFileProvider, MarketDataProvider, MarketDataUnavailable


class _HelpFormatter(DjangoHelpFormatter):
    """Wraps each line of the description and epilog on its own, keeping indented lines (the column list)."""

    def _fill_text(self, text, width, indent):
        return "\n".join(
            line
            if line.startswith("  ")
            else textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
            for line in text.splitlines()
        )


class CsvImportCommand(BaseCommand):
    kind: str
    columns: Mapping[str, str]

    def create_parser(self, prog_name, subcommand, **kwargs):
        columns = "\n".join(f"  {name:<22} {meaning}" for name, meaning in self.columns.items())
        kwargs.setdefault("epilog", f"CSV columns (header names are case-insensitive):\n{columns}")
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = _HelpFormatter
        return parser

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the CSV file")
        parser.add_argument(
            "--source", help='label stored on every row (default "csv:<file name>"); use the same one to re-import'
        )

    def run_import(self, provider: MarketDataProvider) -> ImportSummary:
        raise NotImplementedError

    def handle(self, *args, file: str, source: str | None, **options):
        provider = CsvFileProvider(file, source=source)
        try:
            summary = self.run_import(provider)
        except MarketDataUnavailable as error:
            raise CommandError(error.message) from None
        for error in summary.errors:
            self.stderr.write(str(error))
        self.stdout.write(f"Imported {self.kind} from {file} (source {summary.source}): {summary}.")
