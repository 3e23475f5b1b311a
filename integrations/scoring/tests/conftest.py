import pytest

from integrations.scoring.selectors import forget_source_conversion_stats


@pytest.fixture(autouse=True)
def _fresh_source_stats(db):
    """Conversion stats are cached; each test computes them from its own rows."""
    forget_source_conversion_stats()
    yield
    forget_source_conversion_stats()
