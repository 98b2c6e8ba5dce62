// node-postgres as seeds 003 and 004 use it, through Usher.
// Usage: node seed_node_pg.js CONFIG_JSON
//   CONFIG_JSON is what the seed hands to new Pool(): seed 004's health check
//   ({connectionString: DATABASE_URL, max: 1, connectionTimeoutMillis: 5000}) or seed 003's getDatabaseConfig()
//   ({host, port, database, user, password}).
// Runs seed 004's checkPgBouncer() (with the `start` it forgets to define), then 8 clients of a shared pool doing
// transactions; exits 0 and prints "node-postgres seed ok" when every answer is right.
const { Pool } = require('pg');

const config = JSON.parse(process.argv[2]);

// seed 004, my-backend/lib/pgbouncerHealth.js
async function checkPgBouncer() {
  const start = Date.now(); // missing in the seed: without it every check reports "start is not defined"
  const pool = new Pool(config);
  try {
    const client = await pool.connect();
    const result = await client.query('SELECT 1 as health');
    client.release();
    await pool.end();
    if (result.rows[0].health !== 1) throw new Error('wrong health row ' + JSON.stringify(result.rows));
    return { healthy: true, latency: Date.now() - start };
  } catch (error) {
    return { healthy: false, error: error.message };
  }
}

async function main() {
  const health = await checkPgBouncer();
  console.log('health: ' + JSON.stringify(health));
  if (!health.healthy) throw new Error('unhealthy');
  const pool = new Pool({ ...config, max: 4 });
  await Promise.all([...Array(8).keys()].map(async (w) => {
    for (let i = 0; i < 20; i++) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const r = await c.query('SELECT $1::int + $2::int AS v', [i, w]);
        if (r.rows[0].v !== i + w) throw new Error(`wrong sum ${r.rows[0].v} for ${i}+${w}`);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    }
  }));
  await pool.end();
}

const timer = setTimeout(() => { console.error('timed out'); process.exit(2); }, 120000);
main().then(() => { clearTimeout(timer); console.log('node-postgres seed ok'); })
  .catch((e) => { console.error(e); process.exit(1); });
