"""SQLAlchemy (psycopg2) engines as seeds 000 and 002 configure them, through Usher.

Usage: python3 seed_sqlalchemy.py URL MODE
  MODE "fly":        seed 000's PgBouncer settings: pool_size=2, max_overflow=5, pool_pre_ping=False,
                     pool_recycle=300, connect_timeout=10
  MODE "fly-preping": the same with pool_pre_ping=True (the seed disables it; with Usher it is safe)
  MODE "nullpool":   seed 002's serverless engine: NullPool, a new connection for every use
Exits 0 and prints "<pool class> sqlalchemy ok" when every answer is right.
"""
import sys
import threading

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool


def engine_for(url, mode):
    # SQLAlchemy 1.4+ only knows "postgresql://"; apps on Fly rewrite the "postgres://" that Fly sets
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    args = {"connect_args": {"connect_timeout": 10}}
    if mode == "nullpool":
        return create_engine(url, poolclass=NullPool, **args)
    return create_engine(url, pool_size=2, max_overflow=5, pool_pre_ping=(mode == "fly-preping"),
                         pool_recycle=300, **args)


def main(url, mode):
    engine = engine_for(url, mode)
    errors = []

    def work(w):
        try:
            for i in range(20):
                with engine.begin() as conn:
                    v = conn.execute(text("SELECT CAST(:a AS int) + CAST(:b AS int)"), {"a": i, "b": w}).scalar()
                    assert v == i + w, (v, i, w)
                    db = conn.execute(text("SELECT current_database()")).scalar()
                    assert db, db
        except Exception as e:  # reported below, the script fails
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    engine.dispose()
    if errors:
        print("\n".join(errors))
        sys.exit(1)
    print(type(engine.pool).__name__, "sqlalchemy ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
