"""The back office for leads, one module per concept; importing this package registers
them with the admin site (Django's autodiscovery imports ``leads.admin``)."""

from leads.admin import audit, leads, users  # noqa: F401
from leads.deals import admin as deals  # noqa: F401
from leads.merges import admin as merges  # noqa: F401
