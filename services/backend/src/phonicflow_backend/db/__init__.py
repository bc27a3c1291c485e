"""The backend's database: tables (:mod:`.schema`), migrations (:mod:`.migrate`, Alembic) and
the one storage interface every route uses (:mod:`.store`)."""
