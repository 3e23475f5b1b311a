"""Plan templates: Django's template language, sandboxed.

A template may use only the merge fields in ``MERGE_FIELDS``, the filters in
``FILTERS`` and the ``if``/``elif``/``else``/``endif`` tags (``validate`` refuses the
rest with a message naming it, at save). It is rendered against plain strings only (no
model objects, so no method is ever reached), autoescaped for the HTML part of an email,
as is for the plain-text part, a text message and a subject.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Lexer, TokenType
from django.utils.html import linebreaks

MERGE_FIELDS = {
    "first_name": "The lead's first name",
    "last_name": "The lead's last name",
    "full_name": "The lead's full name",
    "agent_name": "The agent's name",
    "agent_first_name": "The agent's first name",
    "agent_phone": "The agent's phone",
    "agent_email": "The agent's email",
    "team_name": "The team's name",
    "listing_url": "A link to a matching listing (empty when none matches)",
    "listing_summary": 'A matching listing in words, e.g. "3 bd condo, $450,000 in Oakland" (or empty)',
    "unsubscribe_url": "The lead's unsubscribe link (emails)",
}
FILTERS = {"default", "upper", "lower", "title", "capfirst", "truncatewords", "urlencode"}
IF_WORDS = {"if", "elif", "else", "endif", "and", "or", "not", "==", "!=", "in"}
MAX_LENGTH = 10_000

_ENGINE = Engine(libraries={}, builtins=["django.template.defaulttags", "django.template.defaultfilters"])
_LITERAL = re.compile(r"""^(".*"|'.*'|-?\d+(\.\d+)?)$""")


class TemplateInvalid(ValueError):
    """A template that may not be saved; ``str()`` says why, for the person editing it."""


def validate(source: str) -> None:
    """Raise ``TemplateInvalid`` unless ``source`` parses and uses only what is allowed."""
    if len(source) > MAX_LENGTH:
        raise TemplateInvalid(f"A template is at most {MAX_LENGTH} characters.")
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.VAR:
            _check_expression(token.contents)
        elif token.token_type == TokenType.BLOCK:
            words = token.split_contents()
            if not words or words[0] not in {"if", "elif", "else", "endif"}:
                raise TemplateInvalid(f'The tag "{{% {token.contents} %}}" is not allowed; use {{% if %}} only.')
            for word in words[1:]:
                if word not in IF_WORDS and not _LITERAL.match(word):
                    _check_expression(word)
    try:
        _ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        raise TemplateInvalid(f"The template does not parse: {error}") from None


def _check_expression(expression: str) -> None:
    variable, *filters = expression.split("|")
    variable = variable.strip()
    if not _LITERAL.match(variable) and variable not in MERGE_FIELDS:
        known = ", ".join(sorted(MERGE_FIELDS))
        raise TemplateInvalid(f'Unknown merge field "{variable}". Known: {known}.')
    for item in filters:
        name = item.split(":", 1)[0].strip()
        if name not in FILTERS:
            raise TemplateInvalid(f'The filter "{name}" is not allowed. Allowed: {", ".join(sorted(FILTERS))}.')


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=512)
def _compiled(source: str):
    """``source`` parsed once per process (a step's template is rendered for every lead)."""
    return _ENGINE.from_string(source)


def render_text(source: str, fields: dict[str, str]) -> str:
    """``source`` rendered as plain text (a text message, a subject, a task title)."""
    return _compiled(source).render(Context(_only_known(fields), autoescape=False)).strip()


def render_email(*, subject: str, body: str, fields: dict[str, str]) -> Rendered:
    """The email's subject (one line), plain-text part and HTML part (autoescaped),
    each with the unsubscribe link when one is given."""
    known = _only_known(fields)
    text = render_text(body, known)
    html = linebreaks(_compiled(body).render(Context(known, autoescape=True)).strip(), autoescape=False)
    link = known.get("unsubscribe_url", "")
    if link and link not in text:
        text += f"\n\n--\nTo stop these emails: {link}"
    if link:
        html += f'\n<p style="font-size:small"><a href="{_escape(link)}">Unsubscribe</a></p>'
    return Rendered(subject=" ".join(render_text(subject, known).split())[:300], text=text, html=html)


def _only_known(fields: dict[str, str]) -> dict[str, str]:
    return {name: str(fields.get(name) or "") for name in MERGE_FIELDS}


def _escape(value: str) -> str:
    from django.utils.html import escape

    return escape(value)
