import re

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

_TOKEN_SHAPE = re.compile(r"[0-9A-Za-z]{1,40}")


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>``, the scheme integrations send."""

    keyword = "Bearer"

    def authenticate_credentials(self, key):
        # Refuse what cannot be a token before it reaches the database
        # (PostgreSQL rejects a NUL in a query parameter with an error).
        if not _TOKEN_SHAPE.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
