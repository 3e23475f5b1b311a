"""JSON input that can never reach a view in a shape that crashes it."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser


class ExactContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except that a body's ``Content-Type`` must name its media type.

    DRF matches a wildcard (``*/*``, ``application/*``) against every parser, so such a
    body would be read as JSON; here it selects no parser, which DRF answers with a 415
    like any other type it cannot read. (Wildcards belong in ``Accept``, not here.)
    """

    def select_parser(self, request, parsers):
        media_type = (request.content_type or "").split(";", 1)[0]
        if "*" in media_type:
            return None
        return super().select_parser(request, parsers)


class StrictJSONParser(JSONParser):
    """DRF's JSON parser (NaN and Infinity already refused), plus two refusals:

    - nesting deep enough to exhaust the parser's recursion (a RecursionError,
      not a ValueError, so DRF would let it through as a 500);
    - lone UTF-16 surrogates (``"\\ud800"``), which parse into a Python str that
      can be neither stored nor rendered back as UTF-8.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - the body contains a lone surrogate.") from None
        return data
