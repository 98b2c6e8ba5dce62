"""psycopg 3 with prepare_threshold=0 (named prepared statements from the first execution) through Usher.

Usage: python3 psycopg_check.py DSN   -- exits 0 and prints "psycopg ok" when every answer is right.
"""
import sys
import threading

import psycopg


def worker(dsn, wid, errors):
    try:
        with psycopg.connect(dsn, prepare_threshold=0, autocommit=True, connect_timeout=10) as conn:
            for i in range(40):
                v = conn.execute("SELECT %s::int + %s::int", (i, wid)).fetchone()[0]
                assert v == i + wid, (v, i, wid)
                with conn.transaction():
                    t = conn.execute("SELECT %s::text || 'x'", ("w%d" % wid,)).fetchone()[0]
                    assert t == "w%dx" % wid, t
    except Exception as e:  # reported below, the script fails
        errors.append(repr(e))


def main(dsn):
    errors = []
    threads = [threading.Thread(target=worker, args=(dsn, w, errors)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        print("\n".join(errors))
        sys.exit(1)
    print("psycopg ok")


if __name__ == "__main__":
    main(sys.argv[1])
