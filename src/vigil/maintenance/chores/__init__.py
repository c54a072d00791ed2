"""Database chores a runbook asks for by hand: ``vacuum``, ``sizes`` (largest tables and indexes,
unused indexes), ``kill-idle`` (listed first, ended only when confirmed, never the caller's own
session) and ``long-queries``, on PostgreSQL and MariaDB/MySQL.

    model.py     the answers, their bounds, the ``ChoreEngine`` protocol
    postgres.py  PostgreSQL (asyncpg)
    mariadb.py   MariaDB and MySQL (aiomysql)
    caller.py    which sessions are the caller's own
    service.py   which database and engine: ``chores_for``
"""
