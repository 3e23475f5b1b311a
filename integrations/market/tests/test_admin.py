from io import StringIO

import pytest
from django.core.management import call_command

from integrations.market.models import Listing, MarketSnapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, admin_user):
    call_command("seed_market_demo", stdout=StringIO())
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/market/marketsnapshot/?source=demo&q=oakland",
        "/admin/market/listing/?status__exact=active&property_type__exact=condo&q=san+jose",
    ],
)
def test_back_office_can_filter_and_search_market_data(staff_client, url, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = staff_client.get(url)

    assert response.status_code == 200


def test_market_data_is_read_only_in_the_admin(staff_client):
    snapshot = MarketSnapshot.objects.first()
    listing = Listing.objects.first()

    assert staff_client.get("/admin/market/listing/add/").status_code == 403
    response = staff_client.post(f"/admin/market/marketsnapshot/{snapshot.pk}/change/", {"median_sale_price": "1"})
    assert response.status_code == 403
    snapshot.refresh_from_db()
    assert snapshot.median_sale_price != 1
    # viewing a row still works
    assert staff_client.get(f"/admin/market/listing/{listing.pk}/change/").status_code == 200
