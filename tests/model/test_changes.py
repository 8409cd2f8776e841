"""`devenv plan`'s report (devenv.model.changes) and compose's dry-run lines, as text."""

from __future__ import annotations

from devenv.engine.docker import planned_actions
from devenv.model.changes import Changes, ServiceWork

DRY_RUN = """\
 DRY-RUN MODE -  Container app-bouncer-1  Creating
 DRY-RUN MODE -  Container app-pg-1  Running
 DRY-RUN MODE -  Container app-cache-1  Recreate
 DRY-RUN MODE -  Container app-old-db-1  Created
 DRY-RUN MODE -  Container app-cache-1  Recreated
 DRY-RUN MODE -  Container ee7ab0a507d0_app-cache-1  Starting
 DRY-RUN MODE -  Container app-old-db-1  Starting
 DRY-RUN MODE -  Container app-bouncer-1  Created
 DRY-RUN MODE -  Container other-pg-1  Creating
"""


def test_compose_dry_run_lines_become_one_verb_per_server() -> None:
    assert planned_actions(DRY_RUN, "app") == {
        "bouncer": "create", "pg": "keep", "cache": "recreate", "old-db": "start"}


def test_an_empty_plan_says_so_and_still_names_command_runners() -> None:
    changes = Changes(containers={"pg": "keep"}, provisioning={"pg": ()},
                      work={"jobs": ServiceWork(command="alembic upgrade head")})
    assert changes.empty
    assert changes.lines("shop") == [
        "`devenv up` of shop would change nothing.",
        "  jobs: runs `alembic upgrade head` on every `up` (it decides what to apply)",
        "Nothing was changed.",
    ]
    assert changes.as_json()["changes"] is False


def test_a_plan_lists_every_kind_of_change_in_up_order() -> None:
    changes = Changes(
        passwords=("pg/app",), ports={"pg-replica-1": 40001},
        files=(("compose/compose.yaml", True), (".devenv/secrets/pg/x", False)),
        images=(("pg", "devenv/shop-pg:abc", "postgres:18 + pg_partman"),),
        containers={"pg": "recreate", "pg-replica-1": "create", "cache": "keep"},
        provisioning={"pg": ("created role app", "created database app")},
        work={"app": ServiceWork(("migrations/app/V1__a.sql",), ("seeds/app/1.sql",),
                                 new=True)},
        env_files=(".devenv/env/app.env",), notes=("a note",))
    assert not changes.empty
    assert changes.lines("shop") == [
        "`devenv up` of shop would:",
        "  create 1 password(s) in .devenv/secrets.json (pg/app)",
        "  choose port 40001 for pg-replica-1 (auto; kept afterwards)",
        "  rewrite compose/compose.yaml",
        "  write .devenv/secrets/pg/x",
        "  build image devenv/shop-pg:abc for pg (postgres:18 + pg_partman)",
        "  create container(s) pg-replica-1",
        "  recreate container(s) pg",
        "  on server pg:",
        "    created role app",
        "    created database app",
        "  app: apply 1 migration(s) (new database): migrations/app/V1__a.sql",
        "  app: apply 1 seed(s) (new database): seeds/app/1.sql",
        "  write .devenv/env/app.env",
        "note: a note",
        "Nothing was changed.",
    ]
    assert changes.as_json()["migrations"] == {"app": {
        "migrations": ["migrations/app/V1__a.sql"], "seeds": ["seeds/app/1.sql"],
        "command": None, "new_database": True}}
