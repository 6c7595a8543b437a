"""Cloudflare's tenant API: the client, its typed results and errors."""
