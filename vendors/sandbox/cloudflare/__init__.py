"""The Cloudflare emulator: accounts, zones, subscriptions and the rate-plan catalog (models, views)."""
