"""Cloudflare zones, zone plans, account add-ons and each partner's catalog: everything about them is in this folder."""
