"""Settings modules: `development` (default), `test`, `production`. The environment decides the rest."""
