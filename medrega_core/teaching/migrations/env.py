"""Alembic environment of the teaching database: run by ``TeachingStore`` at start (``upgrade head``)
on the connection it passes in ``config.attributes["connection"]``; no alembic.ini needed."""

from alembic import context

from medrega_core.teaching.models import Base

connection = context.config.attributes["connection"]
# SQLite alters tables by copying them ("batch" mode); other databases alter in place.
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
