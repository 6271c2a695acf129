"""open_store: creation at head, SQLite pragmas, schema version checks, clear failures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import optimizer.store.engine as store_engine
from optimizer.errors import StoreError
from optimizer.store.engine import current_revision, head_revision, open_store, upgrade
from optimizer.store.tables import metadata

EXTRA_REVISION = """
from alembic import op
import sqlalchemy as sa

revision = "0099"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("future_thing", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("future_thing")
"""


@pytest.fixture
def newer_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A copy of the packaged migrations plus one later revision, as a newer release ships."""
    head = head_revision()
    migrations = tmp_path / "migrations"
    shutil.copytree(store_engine.MIGRATIONS_DIR, migrations)
    (migrations / "versions" / "0099_future.py").write_text(EXTRA_REVISION.format(head=head))
    monkeypatch.setattr(store_engine, "MIGRATIONS_DIR", migrations)
    return head


def test_empty_database_is_created_at_head(db_url: str) -> None:
    engine = open_store(db_url)
    try:
        assert current_revision(engine) == head_revision()
        tables = set(sa.inspect(engine).get_table_names())
        assert {"snapshot", "offer", "offer_price", "offer_epoch", "vm", "vm_observation"} <= tables
    finally:
        engine.dispose()


def test_migrations_match_the_table_classes(db_url: str) -> None:
    """The explicit op.create_table scripts and the table definitions (Core tables and
    SQLModel classes) describe one schema."""
    engine = open_store(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(ctx, metadata())
        assert diff == []
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'a' / 'b' / 'opt.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        engine.dispose()


def test_default_path_follows_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    engine = open_store(None)
    engine.dispose()
    assert (tmp_path / "state" / "optimizer.db").exists()


def test_default_path_without_systemd_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert store_engine.default_url() == (
        f"sqlite:///{tmp_path}/.local/state/fluence-optimizer/optimizer.db"
    )


def test_newer_schema_is_refused_and_left_alone(
    db_url: str, newer_package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(db_url)  # the newer release migrated this database to 0099
    monkeypatch.setattr(
        store_engine, "MIGRATIONS_DIR", Path(store_engine.__file__).parent / "migrations"
    )
    with pytest.raises(StoreError, match="created by a newer fluence-optimizer"):
        open_store(db_url)
    with pytest.raises(StoreError, match="newer"):
        upgrade(db_url)
    engine = store_engine.create_engine(db_url)
    try:
        assert current_revision(engine) == "0099"
    finally:
        engine.dispose()


def test_older_schema_asks_for_upgrade_then_opens(db_url: str, newer_package: str) -> None:
    upgrade(db_url, newer_package)  # a database made by the previous release
    with pytest.raises(StoreError, match=r"run `fluence-optimizer db upgrade`") as err:
        open_store(db_url)
    assert f"at {newer_package}" in str(err.value) and "needs 0099" in str(err.value)
    assert upgrade(db_url) == (newer_package, "0099")
    open_store(db_url).dispose()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_location_is_one_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StoreError) as err:
            open_store(f"sqlite:///{locked / 'sub' / 'opt.db'}")
        assert "cannot create database directory" in str(err.value)
        with pytest.raises(StoreError) as err2:
            open_store(f"sqlite:///{locked / 'opt.db'}")
        assert "\n" not in str(err2.value) and "database" in str(err2.value)
    finally:
        locked.chmod(0o700)


def test_invalid_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="invalid database URL"):
        open_store("not a url at all")


def test_0005_keeps_the_old_reading_of_failed_launches(db_url: str) -> None:
    """Before 0005 every failed action that had created a VM made the planner avoid its
    datacenter; the upgrade records those as launch failures and leaves the others unset."""
    upgrade(db_url, "0004")
    engine = sa.create_engine(db_url)
    row = {
        "fleet": "web", "kind": "migrate", "reason": "", "target_datacenter": "DE-1",
        "created_at": "2026-01-01 00:00:00", "updated_at": "2026-01-01 00:00:00",
        "attempts": 1,
    }  # fmt: skip
    insert = sa.text(
        "INSERT INTO journal_action (id, fleet, kind, state, token, reason, target_datacenter,"
        " new_vm_ids, created_at, updated_at, attempts) VALUES (:id, :fleet, :kind, :state,"
        " :token, :reason, :target_datacenter, :new_vm_ids, :created_at, :updated_at, :attempts)"
    )
    with engine.begin() as c:
        c.execute(insert, {**row, "id": 1, "state": "failed", "token": "a", "new_vm_ids": "0x1"})
        c.execute(insert, {**row, "id": 2, "state": "failed", "token": "b", "new_vm_ids": ""})
        c.execute(insert, {**row, "id": 3, "state": "done", "token": "c", "new_vm_ids": "0x2"})
    assert upgrade(db_url) == ("0004", head_revision())
    with engine.connect() as c:
        causes = dict(c.execute(sa.text("SELECT id, failure_cause FROM journal_action")).all())
    engine.dispose()
    assert causes == {1: "launch", 2: None, 3: None}


def test_the_cheap_reading_of_the_scripts_agrees_with_alembic() -> None:
    """open_store compares the database's revision with the head read from the scripts'
    text (so a current database opens without importing Alembic); that reading must be
    Alembic's own, for every packaged script."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(store_engine.alembic_config())
    graph = store_engine._scripts_graph()
    assert graph is not None, "every packaged script has literal revision/down_revision lines"
    assert graph == {r.revision: r.down_revision for r in script.walk_revisions()}
    assert [head_revision()] == list(script.get_heads())
    assert store_engine.known_revisions() == set(graph)


def test_a_current_database_opens_without_alembic(db_url: str) -> None:
    """The common case, a database at the newest revision, costs no Alembic import."""
    import subprocess
    import sys

    open_store(db_url).dispose()
    probe = (
        "import sys; from optimizer.store.engine import open_store; "
        f"open_store({db_url!r}).dispose(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
