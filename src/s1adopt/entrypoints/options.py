"""Command-line pieces the command modules share: the ``--db`` option and the settings it
makes."""

from __future__ import annotations

from typing import Annotated

import typer

from s1adopt.bootstrap import Application
from s1adopt.config import Settings

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: S1ADOPT_DATABASE_URL or ./s1adopt.db)"),
]


def settings_for(db: str | None) -> Settings:
    """The settings from the environment, on database ``db`` if given."""
    settings = Settings()
    if db:
        settings = settings.model_copy(update={"database_url": db})
    return settings


def application_for(db: str | None) -> Application:
    """The wired service on database ``db`` if given."""
    return Application(settings_for(db))
