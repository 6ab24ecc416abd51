"""What `agent/`, `segmenter/` and `api/` share: wire contracts and tiny utilities.

A leaf: it imports nothing of the three packages (import-linter checks it), so each of them
may import it without coupling to the others. What belongs here is either a contract two
packages meet on (the agent-event payload and its schema, the camera-id rule, clip formats,
the HLS playlist text) or a mechanism small enough to be one function with one right answer
(the wall clock, backoff, Retry-After, stopping a child process, loading settings).

What does not: domain logic, I/O beyond those helpers, anything with state, anything only
one package uses. A helper that grows options for one caller belongs back in that caller.
"""
