"""The HTTP face: routes, the narrow dependencies they take, authentication, signed URLs,
the wire models, byte ranges, server-sent events, and the one map from errors to HTTP.

Everything that knows FastAPI/Starlette lives here; below it (`video/`, `events/`,
`accounts/`, `relay/`, `push/`, `store/`) nothing does. Routes reach the domain through
`deps.py`, never the store.
"""
