"""DigiCert's Partner (CertCentral) API: the client, its typed results and errors."""
