"""JSON input that can never reach a view in a shape that crashes it."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


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
