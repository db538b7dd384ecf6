"""The PostgreSQL backend: pool, migrations, embedded server and store implementations."""
