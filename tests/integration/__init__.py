"""Tests that drive real third-party clients (firebase-admin) against local fakes."""
