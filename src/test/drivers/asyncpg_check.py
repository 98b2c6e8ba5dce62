"""asyncpg with its default statement cache (every query a named prepared statement) through Usher.

Usage: python3 asyncpg_check.py DSN   -- exits 0 and prints "asyncpg ok" when every answer is right.
"""
import asyncio
import sys

import asyncpg


async def worker(dsn, wid, rounds):
    conn = await asyncpg.connect(dsn)
    try:
        for i in range(rounds):
            v = await conn.fetchval("SELECT $1::int + $2::int", i, wid)
            assert v == i + wid, (v, i, wid)
            async with conn.transaction():
                row = await conn.fetchrow("SELECT $1::text AS t, $2::int AS n", "w%d" % wid, i)
                assert row["t"] == "w%d" % wid and row["n"] == i, row
            stmt = await conn.prepare("SELECT $1::int * 2")
            assert await stmt.fetchval(i) == i * 2
    finally:
        await conn.close()


async def main(dsn):
    await asyncio.wait_for(asyncio.gather(*(worker(dsn, w, 40) for w in range(8))), timeout=120)
    print("asyncpg ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
