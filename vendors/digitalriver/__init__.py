"""Digital River's API: the client, its typed results, and webhook signatures."""
