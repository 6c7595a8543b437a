"""The reseller dashboard's kernel: the member gate and base views, the registry each app adds
its parts to, the home page, charts, CSV exports and template tags. Each app keeps its own pages."""
