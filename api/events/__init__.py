"""The event domain: what a doorbell posts (`accept`), storing it once (`ingest`), telling
apps and phones (`notifications`, `hub`, `devices`), its snapshot and saved clip
(`recorder`, `files`), reading and deleting the history (`history`), and retention.

Value types are in `model` (a leaf the store and push also use). Nothing here knows HTTP.
"""
