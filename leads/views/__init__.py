"""The agent pages: server-rendered, login required, reading and writing through
the same selectors and services as the API."""
