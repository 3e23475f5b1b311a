"""The leads list's free-text search (``?search=``): names, email and phone digits.

On PostgreSQL a word of the search matches the start of a word of the contact's names or
email ("jan" finds Jane, "doe@exa" finds jane.doe@example.com), and phone digits match the
start or the end of the number ("415 555", "555-0199", "+1 415 555 0199"), through the
GIN-indexed ``leads_contact.search_document`` (migration 0016). Elsewhere (SQLite) each word
is a case-insensitive substring of a name or the email, or its digits of the phone.
"""

import re

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

MAX_TERMS = 5
# A search matching at most this many contacts hands the leads' ids to the list query, so
# PostgreSQL fetches those leads by primary key and sorts them; with more, the list walks
# its sort index and checks each lead against the matches. (Left to itself the planner
# misjudges how many contacts a prefix matches and walks the index for rare words too:
# seconds for a phone number at a million leads.)
FEW_MATCHES = 2000
MIN_PHONE_DIGITS = 3
_PHONE_LIKE = re.compile(r"^[\d\s()+.\-/]+$")
_WORD = re.compile(r"[^\W_]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def search_leads(queryset: QuerySet, text: str) -> QuerySet:
    """The leads of ``queryset`` whose contact matches every word of ``text``."""
    terms = _terms(text)
    if not terms:
        return queryset.none()
    if connection.vendor == "postgresql":
        return queryset.filter(pk__in=_matching_lead_ids(terms))
    for kind, value in terms:
        if kind == "phone":
            queryset = queryset.filter(contact__phone__contains=value)
        else:
            queryset = queryset.filter(
                Q(contact__first_name__icontains=value)
                | Q(contact__last_name__icontains=value)
                | Q(contact__email__icontains=value)
            )
    return queryset


_BY_EMAIL = "SELECT lead_id FROM leads_contact WHERE lower(email) = %s LIMIT %s"
_BY_DOCUMENT = "SELECT lead_id FROM leads_contact WHERE search_document @@ to_tsquery('simple', %s)"
_BY_DOCUMENT_FEW = "SELECT lead_id FROM leads_contact WHERE search_document @@ to_tsquery('simple', %s) LIMIT %s"


def _matching_lead_ids(terms: list[tuple[str, str]]):
    """The matching contacts' lead ids: a list when they are few, else a subquery."""
    if len(terms) == 1 and terms[0][0] == "email":
        # a whole address: its exact match first, by its index (contact_email_lower); the
        # words of an address include ones every contact has ("com")
        found = _lead_ids(_BY_EMAIL, terms[0][1])
        if found:
            return found
    query = _tsquery(terms)
    found = _lead_ids(_BY_DOCUMENT_FEW, query)
    return found if len(found) <= FEW_MATCHES else RawSQL(_BY_DOCUMENT, [query])  # noqa: S611 (a constant)


def _lead_ids(sql: str, value: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [value, FEW_MATCHES + 1])
        return [row[0] for row in cursor.fetchall()]


def _terms(text: str) -> list[tuple[str, str]]:
    """("phone", digits), ("email", address) or ("word", word) pairs; a search made only of
    phone characters is one phone number however it is spaced."""
    if _PHONE_LIKE.match(text):
        digits = re.sub(r"\D", "", text)
        if len(digits) >= MIN_PHONE_DIGITS:
            return [("phone", digits)]
    terms: list[tuple[str, str]] = []
    for term in text.split()[:MAX_TERMS]:
        digits = re.sub(r"\D", "", term)
        if _PHONE_LIKE.match(term) and len(digits) >= MIN_PHONE_DIGITS:
            terms.append(("phone", digits))
        elif connection.vendor != "postgresql":
            terms.append(("word", term))
        elif _EMAIL.match(term):
            terms.append(("email", term.casefold()))
        else:
            terms += [("word", word.casefold()) for word in _WORD.findall(term)]
    return terms


def _tsquery(terms: list[tuple[str, str]]) -> str:
    """Prefix matches, ANDed: names and email words are weight A, phone digits weight B
    (forward, or reversed after an "r" to match the end of the number)."""
    parts = []
    for kind, value in terms:
        if kind == "email":
            parts += [f"'{word.casefold()}':*A" for word in _WORD.findall(value)]
        elif kind == "phone":
            parts.append(f"('{value}':*B | 'r{value[::-1]}':*B)")
        else:
            parts.append(f"'{value}':*A")
    return " & ".join(parts)
