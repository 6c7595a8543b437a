"""One HTTP client per vendor (DigiCert, Cloudflare) over requests; `vendors.sandbox` emulates them."""
