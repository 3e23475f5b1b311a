"""How a place name becomes the key that market data is stored and looked up by."""

import re

_WHITESPACE = re.compile(r"\s+")


def location_key(value: str) -> str:
    """The lookup key for a city name or ZIP code: case-folded, whitespace collapsed.

    "  San  Francisco " and "san francisco" share the key "san francisco".
    """
    return _WHITESPACE.sub(" ", value).strip().casefold()


def location_candidate_keys(value: str) -> list[str]:
    """Keys to try for a place as a person typed it, most specific first.

    "Oakland, CA" is tried as "oakland, ca" and then as "oakland"; a ZIP+4 code such
    as "94110-1234" also as "94110".
    """
    key = location_key(value)
    candidates = [key]
    head = key.split(",", 1)[0].strip()
    if head and head != key:
        candidates.append(head)
    if re.fullmatch(r"\d{5}-\d{4}", head):
        candidates.append(head[:5])
    return candidates
