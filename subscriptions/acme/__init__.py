"""DigiCert ACME contracts and their certificates: everything about them is in this folder."""
