"""Emulators of the vendor APIs (DigiCert, Cloudflare) with their own tables; never in production."""
