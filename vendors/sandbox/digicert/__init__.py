"""The DigiCert emulator: subaccounts, account settings and ACME contracts (models, views)."""
