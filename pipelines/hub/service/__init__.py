"""The hub's API: the only door through which anything of an NGO reaches the hub.

A thin Starlette application in front of the hub's core (see
docs/decisions/013-the-hub-as-a-service.md):

- ``receive``    the one way into the inbox: streamed, hashed, fsynced, renamed, receipted
- ``uploads``    the multipart body read as a stream, bounded and timed, into ``receive``
- ``callers``    who is calling (the token, never the request), rate limits, the journal
- ``figures``    the caller's own released cells and the pooled ones, from the published exports
- ``routes``     the route table: what each route takes, does and answers
- ``answers``    the one place where the core's errors become HTTP answers
- ``app``        the table served as an ASGI application
- ``openapi``    the OpenAPI 3.1 description, built from the same route table
- ``docs``       that description rendered as HTML on the hub itself (no CDN)
- ``server``     uvicorn with a header timeout, TLS, and the start-up that mends a hard stop
"""
