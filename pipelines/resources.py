"""Resources: the operational PostgreSQL and the data directory (lake, warehouse, saved reconciliation).

Both read `llmusage.config` (LLMUSAGE_DATABASE_URL, LLMUSAGE_HOME) when a run needs them, never at code
location load; a field set explicitly (tests, another deployment) wins over the environment.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from llmusage.config import Settings


class PostgresResource(dg.ConfigurableResource):
    """The operational database: `database_url`, else LLMUSAGE_DATABASE_URL, else the embedded server."""

    database_url: str | None = None
    home: str | None = None

    def settings(self) -> Settings:
        env = Settings.from_env()
        return Settings(
            home=Path(self.home) if self.home else env.home,
            database_url=self.database_url or env.database_url,
            master_key=None,
        )

    def url(self) -> str:
        from llmusage.pg.connect import resolve_url

        return resolve_url(self.settings())


class LakeResource(dg.ConfigurableResource):
    """The data directory: `home`, else LLMUSAGE_HOME, else ./.llmusage (paths as `llmusage.config` lays them)."""

    home: str | None = None

    def settings(self) -> Settings:
        env = Settings.from_env()
        return (
            Settings(home=Path(self.home).absolute(), database_url=None, master_key=None)
            if self.home
            else env
        )

    @property
    def lake_dir(self) -> Path:
        return self.settings().lake_dir

    @property
    def warehouse_path(self) -> Path:
        return self.settings().warehouse_path

    @property
    def reconcile_dir(self) -> Path:
        return self.settings().reconcile_dir
