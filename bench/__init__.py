"""The performance harness of issue 6: ``python -m bench`` (``make bench``).

Loads a realistic data set into its own PostgreSQL database with COPY, serves
the app under gunicorn as in production, drives it from this process with a
bounded load generator, measures the same work done by a bare WSGI function
with raw SQL (the floor), counts the SQL queries of each request, and writes
``bench/RESULTS.md``. See ``bench/README.md``.
"""
