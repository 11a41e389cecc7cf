"""Test doubles shared by the suite (providers, servers); never imported by the app itself."""
