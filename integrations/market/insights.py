"""Short sentences an agent can use, written from a lead's market analysis.

Pure functions over the analysis dict that ``services.analyse_lead`` builds: no
queries, so the wording can change without touching how the figures are found.
"""

from leads.models import LeadType, PropertyType

# (one, many) for "1 condo fits" / "12 condos fit"
_PROPERTY_NOUNS = {
    PropertyType.SINGLE_FAMILY: ("single-family home", "single-family homes"),
    PropertyType.CONDO: ("condo", "condos"),
    PropertyType.TOWNHOUSE: ("townhouse", "townhouses"),
    PropertyType.MULTI_FAMILY: ("multi-family home", "multi-family homes"),
    PropertyType.APARTMENT: ("apartment", "apartments"),
    PropertyType.LAND: ("land parcel", "land parcels"),
    PropertyType.COMMERCIAL: ("commercial property", "commercial properties"),
    PropertyType.MOBILE_HOME: ("mobile home", "mobile homes"),
}
_BUYING = {LeadType.BUYER, LeadType.BUYER_SELLER, LeadType.INVESTOR}
_SELLING = {LeadType.SELLER, LeadType.BUYER_SELLER}


def money(amount: int | float) -> str:
    """$1.35M, $850K, $900."""
    if amount >= 1_000_000:
        return f"${amount / 1_000_000:.2f}".rstrip("0").rstrip(".") + "M"
    if amount >= 10_000:
        return f"${round(amount / 1000)}K"
    return f"${amount:,.0f}"


def homes_noun(property_types: list[str], count: int) -> str:
    """'condos' for one type, 'condos or townhouses' for two, 'homes' for more or none."""
    nouns = [_PROPERTY_NOUNS.get(value) for value in property_types]
    if not 1 <= len(nouns) <= 2 or None in nouns:
        return "home" if count == 1 else "homes"
    return " or ".join(one if count == 1 else many for one, many in nouns)


def _budget_sentence(entry: dict, *, selling_only: bool) -> str | None:
    fit = entry["budget_fit"]
    if fit["position"] is None:
        return None
    subject = "Asking price" if selling_only else "Budget"
    median_label = "median sale price" if fit["compared_to"] == "median_sale_price" else "median list price"
    median = money(entry[fit["compared_to"]])
    where = f"the {entry['location']} {median_label} ({median})"
    if fit["position"] == "within":
        return f"{subject} is in line with {where}."
    word = "under" if fit["position"] == "below" else "over"
    return f"{subject} is {abs(fit['difference_pct']):.0f}% {word} {where}."


def _trend_sentence(entry: dict) -> str | None:
    trend = entry["trend"]
    change = trend["median_sale_price_change_pct"]
    if change is None:
        return None
    span = f"over the last {trend['months']} months"
    if trend["direction"] == "flat":
        return f"{entry['location']} prices are flat {span} ({change:+.1f}%)."
    return f"{entry['location']} prices are {trend['direction']} {abs(change):.1f}% {span}."


def _location_sentences(entry: dict, *, lead_type: str, property_types: list[str]) -> list[str]:
    if entry["status"] != "ok":
        return [f"No market data for {entry['location']} yet."]
    sentences = []
    buying, selling = lead_type in _BUYING, lead_type in _SELLING
    if lead_type == LeadType.RENTER:
        if entry["median_sale_price"] is not None:
            sentences.append(
                f"Homes in {entry['location']} sell for a median {money(entry['median_sale_price'])} "
                "(the market data covers sales, not rents)."
            )
    else:
        sentences.append(_budget_sentence(entry, selling_only=not buying))
    if buying and entry["matching_listings"] is not None:
        count = entry["matching_listings"]
        noun = homes_noun(property_types, count)
        if count:
            sentences.append(f"{count} {noun} in {entry['location']} fit{'s' if count == 1 else ''}.")
        else:
            sentences.append(f"No active {noun} in {entry['location']} fit the criteria yet.")
    if selling and entry["median_days_on_market"] is not None:
        sentences.append(f"Homes in {entry['location']} sell in a median {entry['median_days_on_market']} days.")
    if selling and not buying and entry["active_listings"] is not None:
        sentences.append(f"{entry['location']} has {entry['active_listings']} active listings.")
    sentences.append(_trend_sentence(entry))
    return [sentence for sentence in sentences if sentence]


_MARKET_POSITION = {
    "below": "budget below the market",
    "within": "budget within the market",
    "above": "budget above the market",
    "mixed": "budget fit differs by location",
}


def _summary(analysis: dict, *, lead_type: str) -> str:
    if analysis["status"] != "ok":
        return analysis["reason"]
    summary = analysis["summary"]
    best = next(entry for entry in analysis["locations"] if entry["location"] == summary["best_location"])
    if lead_type in _BUYING:
        total = summary["matching_listings"]
        if total:
            text = f"Best fit: {best['location']} ({best['matching_listings']} matching listings"
            text += f" of {total})" if total != best["matching_listings"] else ")"
        else:
            text = f"No matching listings yet in {summary['locations_with_data']} location(s)"
        if summary["budget_fit"]:
            text += f"; {_MARKET_POSITION[summary['budget_fit']]}"
        text += "."
    elif lead_type == LeadType.SELLER and best["median_days_on_market"] is not None:
        text = f"Fastest market: {best['location']}, homes sell in a median {best['median_days_on_market']} days."
    else:
        text = f"Market data for {summary['locations_with_data']} of {summary['locations_requested']} location(s)."
    if analysis["data_source"] == "demo":
        text += " (Demo market data.)"
    return text


def lead_insights_build(*, analysis: dict, lead_type: str, property_types: list[str]) -> dict:
    """{"summary", "sentences", "budget_fit", "best_location"} from a market analysis."""
    if analysis["status"] == "ok" or analysis["locations"]:
        sentences = [
            sentence
            for entry in analysis["locations"]
            for sentence in _location_sentences(entry, lead_type=lead_type, property_types=property_types)
        ]
    else:
        sentences = [analysis["reason"]]
    if analysis["data_source"] and "demo" in analysis["data_source"].split(", "):
        sentences.append("These figures are demo market data, not live MLS figures.")
    return {
        "summary": _summary(analysis, lead_type=lead_type),
        "sentences": sentences,
        "budget_fit": analysis["summary"]["budget_fit"],
        "best_location": analysis["summary"]["best_location"],
    }
