"""People and their credentials: users with argon2id passwords (`users`, `passwords`),
sign-in sessions behind a cookie (`sessions`), API tokens for apps and scripts (`tokens`),
and the slow-down of failed sign-ins (`limiter`).

Value types are in `model` (a leaf the store also uses). Nothing here knows HTTP.
"""
