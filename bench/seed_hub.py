"""Fill a JupyterHub sqlite database with N users BEFORE the hub starts.

Usage: python seed_hub.py DB_PATH N ADMINS [GROUPS]

Uses JupyterHub's own `orm` module (run it with the venv's python): it creates the
tables (and stamps the alembic revision) like a first start would, creates the default
roles, and inserts users `user00000` .. `user{N-1}`, the first ADMINS of them admins
(admin flag and the `admin` role), every one with the default `user` role, as a hub
that had created them itself would hold them. With GROUPS, it also makes that many
groups of 20 members each (`group0000` ..), and the group `hub-admins` holding the
`admin` role with the first ADMINS users as members, as a hub that keeps its admins in
load_roles (the hub must then be started with HUB_ADMIN_GROUPS=hub-admins).
"""

import sys
import time

from jupyterhub import orm, roles


def main():
    db_path, n, admins = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    n_groups = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    started = time.monotonic()
    db = orm.new_session_factory("sqlite:///" + db_path)()
    # The default roles (user, admin, server, token) as the hub makes them at first start.
    for role in roles.get_default_roles():
        roles.create_role(db, role)
    user_role = orm.Role.find(db, "user")
    admin_role = orm.Role.find(db, "admin")
    width = max(5, len(str(n - 1)))
    # Core inserts (executemany): the ORM's unit of work takes ~20 s for 10,000 users.
    # Python-side column defaults (created, cookie_id) still apply to every row.
    users = orm.User.__table__
    db.execute(
        users.insert(),
        [{"name": f"user{i:0{width}d}", "admin": i < admins} for i in range(n)],
    )
    ids = [uid for (uid,) in db.query(orm.User.id).order_by(orm.User.id)]
    role_map = orm._role_associations["user"].__table__
    rows = [{"user_id": uid, "role_id": user_role.id} for uid in ids]
    rows += [{"user_id": uid, "role_id": admin_role.id} for uid in ids[:admins]]
    db.execute(role_map.insert(), rows)
    if n_groups:
        seed_groups(db, ids, admins, n_groups, admin_role)
    db.commit()
    count = db.query(orm.User).count()
    admin_count = db.query(orm.User).filter(orm.User.admin == True).count()  # noqa: E712
    print(
        f"seed_hub: {count} users ({admin_count} admins) in {db_path} "
        f"in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    if count != n or admin_count != admins:
        sys.exit(f"seed_hub: expected {n} users and {admins} admins")


def seed_groups(db, ids, admins, n_groups, admin_role):
    """GROUPS groups of 20 users each, and `hub-admins` (role admin) of the first ADMINS."""
    groups = orm.Group.__table__
    names = [f"group{i:04d}" for i in range(n_groups)] + ["hub-admins"]
    db.execute(groups.insert(), [{"name": name} for name in names])
    gids = dict(db.query(orm.Group.name, orm.Group.id))
    members = orm.user_group_map
    rows = [
        {"group_id": gids[f"group{g:04d}"], "user_id": ids[(g * 20 + k) % len(ids)]}
        for g in range(n_groups)
        for k in range(20)
    ]
    rows += [{"group_id": gids["hub-admins"], "user_id": uid} for uid in ids[:admins]]
    db.execute(members.insert(), rows)
    group_roles = orm._role_associations["group"].__table__
    db.execute(group_roles.insert(), [{"group_id": gids["hub-admins"], "role_id": admin_role.id}])


if __name__ == "__main__":
    main()
