"""The property matching at scale (issue 14): N open buyers with preferences and M new
listings on PostgreSQL; measures the preference index build and the matching of the
listings' changes through it, against the N x M pairs a naive matching would compare.

    .venv/bin/python -m bench.matching_bench --leads 100000 --listings 2000

The bench creates the database ``--db-name`` afresh (``--keep`` reuses the leads and the
index when it already holds them; the listings and matches are always made again). Leads
go in through the write module (``leads.core.writes.insert_past_leads``: no events); the
listings and their ``new`` changes are written as an import writes them, without the
after-commit listener, so the matching is timed on its own. Prints and writes
artifacts/bench/matching-<N>x<M>.json.

Places: the 48 Bay Area cities of the bench data set plus ``--places`` more ("Place 0001",
...); each lead prefers one or two, each listing is in one. How many leads share a listing's
place and price band (the candidates per listing) is what the time depends on.
"""

import argparse
import json
import os
import random
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg import sql

from bench.databases import database_url, has_leads, server_url

ROOT = Path(__file__).resolve().parents[1]
SEED = 14
LEAD_BATCH = 5000
LISTING_BATCH = 2000
TYPES = ("single_family", "condo", "townhouse", "multi_family")
FEATURES = ("garage", "pool", "garden", "fireplace", "view", "solar")


def places(extra: int) -> list[tuple[str, int]]:
    """(name, median price) per place, fixed by the seed."""
    from bench.dataset import LOCATIONS

    rng = random.Random(SEED)
    names = list(LOCATIONS) + [f"Place {index:04d}" for index in range(1, extra + 1)]
    return [(name, rng.choice((450, 650, 850, 1100, 1400, 1900)) * 1000) for name in names]


def build_leads(count: int, place_list: list[tuple[str, int]]) -> float:
    from leads.core import writes
    from leads.models import Contact, Lead, LeadSource, LeadStatus, LeadType, Preferences, Timeline

    rng = random.Random(SEED + 1)
    started = time.monotonic()
    for start in range(0, count, LEAD_BATCH):
        batch = []
        for index in range(start, min(count, start + LEAD_BATCH)):
            wanted = rng.sample(place_list, k=rng.choice((1, 1, 2)))
            median = wanted[0][1]
            low = int(median * rng.uniform(0.55, 1.1) / 10_000) * 10_000
            lead = Lead(
                lead_type=rng.choice((LeadType.BUYER, LeadType.BUYER, LeadType.INVESTOR, LeadType.BUYER_SELLER)),
                source=LeadSource.WEBSITE,
                status=rng.choice((LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.NURTURE)),
                processing_status="done",
                processed_version=1,
            )
            parts = [
                Contact(lead=lead, first_name="Bench", last_name=f"Buyer {index}", email=f"b{index}@bench.example"),
                Preferences(
                    lead=lead,
                    property_types=rng.sample(TYPES, k=rng.choice((0, 1, 1, 2))),
                    min_price=Decimal(low) if rng.random() < 0.7 else None,
                    max_price=Decimal(low + rng.choice((150, 250, 400, 600)) * 1000),
                    preferred_locations=[name for name, _ in wanted],
                    min_bedrooms=rng.choice((None, 1, 2, 3, 3, 4)),
                    min_bathrooms=rng.choice((None, Decimal(1), Decimal(2))),
                    must_have_features=rng.sample(FEATURES, k=1) if rng.random() < 0.15 else [],
                    nice_to_have_features=rng.sample(FEATURES, k=rng.choice((0, 1, 2))),
                ),
                Timeline(lead=lead),
            ]
            batch.append((lead, parts))
        writes.insert_past_leads(batch)
    return time.monotonic() - started


def build_listings(count: int, place_list: list[tuple[str, int]]) -> float:
    from django.db import transaction
    from django.utils import timezone

    from integrations.market.locations import location_key
    from integrations.market.models import Listing, ListingChange, ListingChangeKind

    rng = random.Random(SEED + 2)
    started = time.monotonic()
    stamp = int(time.time())
    for start in range(0, count, LISTING_BATCH):
        listings = []
        for index in range(start, min(count, start + LISTING_BATCH)):
            name, median = rng.choice(place_list)
            beds = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))
            listings.append(
                Listing(
                    source="bench",
                    external_id=f"BENCH-{stamp}-{index}",
                    location=name,
                    location_key=location_key(name),
                    city=name,
                    price=Decimal(int(median * rng.lognormvariate(0, 0.35) / 5000) * 5000 or 5000),
                    beds=beds,
                    baths=Decimal(max(1, beds - rng.choice((0, 1)))),
                    square_feet=600 + beds * 400 + rng.randint(0, 400),
                    property_type=rng.choice(TYPES),
                    features=rng.sample(FEATURES, k=rng.randint(0, 3)),
                )
            )
        now = timezone.now()
        with transaction.atomic():
            Listing.objects.bulk_create(listings)
            ListingChange.objects.bulk_create(
                ListingChange(
                    listing=listing,
                    kind=ListingChangeKind.NEW,
                    new_price=listing.price,
                    new_status=listing.status,
                    changed_at=now,
                )
                for listing in listings
            )
    return time.monotonic() - started


def run(args) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadmgmt.settings")
    django.setup()
    from django.db import connection

    from integrations.market.models import Listing
    from integrations.matches import index, services
    from integrations.matches.models import ListingMatch, PreferenceIndex
    from leads.models import Lead

    place_list = places(args.places)
    result: dict = {"leads": args.leads, "listings": args.listings, "places": len(place_list)}
    if Lead.objects.count() < args.leads:
        print(f"Writing {args.leads} leads...", flush=True)
        result["lead_write_seconds"] = round(build_leads(args.leads, place_list), 1)
        started = time.monotonic()
        result["index_rows"] = index.index_rebuild()
        result["index_build_seconds"] = round(time.monotonic() - started, 1)
    result["index_rows"] = PreferenceIndex.objects.count()
    ListingMatch.objects.all().delete()
    Listing.objects.filter(source="bench").delete()
    print(f"Writing {args.listings} listings...", flush=True)
    result["listing_write_seconds"] = round(build_listings(args.listings, place_list), 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print("Matching...", flush=True)
    started = time.monotonic()
    summary = services.match_listing_changes()
    seconds = time.monotonic() - started
    pairs = args.leads * args.listings
    result |= {
        "match_seconds": round(seconds, 2),
        "listings_per_second": round(summary.listings / seconds, 1) if seconds else None,
        "changes": summary.changes,
        "pairs_compared": summary.candidates,
        "pairs_naive": pairs,
        "pairs_compared_share": round(summary.candidates / pairs, 6) if pairs else None,
        "candidates_per_listing": round(summary.candidates / max(1, summary.listings), 1),
        "matches_written": summary.matched,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": os.getloadavg(),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--listings", type=int, default=2_000)
    parser.add_argument("--places", type=int, default=500, help="places beyond the 48 Bay Area cities")
    parser.add_argument("--db-name", default="leadmgmt_matching_bench")
    parser.add_argument("--keep", action="store_true", help="reuse the database when it already holds the leads")
    args = parser.parse_args()

    server = server_url()
    url = database_url(server, args.db_name)
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)  # no broker: nothing is queued, everything runs here
    if not args.keep or not has_leads(url, args.leads):
        with psycopg.connect(database_url(server, "postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(args.db_name)))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.db_name)))
        import subprocess

        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    result = run(args)
    out = ROOT / "artifacts" / "bench" / f"matching-{args.leads}x{args.listings}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
