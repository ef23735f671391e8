"""Config for the `tortoise` CLI (makemigrations): `tortoise -c models.tortoise_cli.TORTOISE_ORM ...`."""

from models.db import tortoise_config

TORTOISE_ORM = tortoise_config("sqlite://migrations.sqlite3")
