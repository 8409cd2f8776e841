"""The clones' tablespace: throwaway databases in memory, the developer's data on its volume.

Each `storage: volume` PostgreSQL/TimescaleDB server mounts a tmpfs at CLONE_DIR (owned by the
image's postgres user, capped by `clone_memory`) and provisioning makes it the tablespace
CLONE_TABLESPACE. Clones (per-test databases, `devenv db clone`) are created in it: a clone
creates some 300 files, and on a virtual disk each file costs what a whole in-memory clone does.
Service databases, templates and `reset` spares stay on the volume.

A container restart empties the tmpfs, but the catalog still lists the tablespace and the
clones that lived there, now without files. `ensure` sees the directory empty, drops those
databases (their data is gone already), and makes the tablespace again; `up` runs it on every
start, cold or warm, so the pytest plugin (which starts through `up`) never hands out one.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from devenv.model.stack import CLONE_DIR, CLONE_TABLESPACE, ServerSpec, clones_in_memory

Conn = psycopg.Connection[tuple[object, ...]]


def ensure(conn: Conn, server: ServerSpec) -> list[str]:
    """Make the tablespace, or remake it after a restart emptied it; the actions taken.

    One catalog query and one directory listing when all is well. A server without the mount
    (a custom image whose postgres user is not the uid devenv mounted it for) keeps its clones
    on the volume and says so once: slower, never broken.
    """
    if not clones_in_memory(server):
        return []
    row = conn.execute(
        "SELECT oid, "
        "(SELECT count(*) FROM pg_ls_dir(%s, true, false)) FROM pg_tablespace WHERE spcname = %s",
        (CLONE_DIR, CLONE_TABLESPACE)).fetchone()
    if row is not None and int(str(row[1])) > 0:
        return []  # its PG_<major>_<catversion> directory is there: the tmpfs kept its files
    actions: list[str] = []
    if row is not None:
        lost = [str(r[0]) for r in conn.execute(
            "SELECT datname FROM pg_database WHERE dattablespace = %s ORDER BY 1", (row[0],))]
        for name in lost:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
        conn.execute(sql.SQL("DROP TABLESPACE {}").format(sql.Identifier(CLONE_TABLESPACE)))
        if lost:
            actions.append(f"{server.name}: dropped {len(lost)} clone(s) a restart emptied "
                           f"({', '.join(lost[:3])}{', ...' if len(lost) > 3 else ''})")
    if conn.execute("SELECT pg_stat_file(%s, true)", (CLONE_DIR,)).fetchone() in (None, (None,)):
        return [*actions, f"{server.name}: no {CLONE_DIR} mount (container made by an older "
                "devenv?): clones stay on the volume until `devenv up` recreates it"]
    try:
        conn.execute(sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
            sql.Identifier(CLONE_TABLESPACE), sql.Literal(CLONE_DIR)))
    except psycopg.errors.InsufficientPrivilege as exc:
        # chmod by a uid that does not own the mount (an image with another postgres uid)
        return [*actions, f"{server.name}: clones stay on the volume ({exc.diag.message_primary}"
                f"; image {server.image} runs postgres as another uid than devenv "
                "mounted the tmpfs for)"]
    except psycopg.Error as exc:
        return [*actions, f"{server.name}: clones stay on the volume "
                f"({exc.diag.message_primary or exc})"]
    return [*actions, f"{server.name}: tablespace {CLONE_TABLESPACE} in memory for clones "
            f"(cap {server.clone_memory})"]


def in_memory(conn: Conn) -> bool:
    """Whether this server has the clones' tablespace (clones then go there)."""
    return conn.execute("SELECT 1 FROM pg_tablespace WHERE spcname = %s",
                        (CLONE_TABLESPACE,)).fetchone() is not None
