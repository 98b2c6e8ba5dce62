// node-postgres named queries ({name, text, values}: a named prepared statement per connection) through Usher.
// Usage: node node_pg_check.js URL   -- exits 0 and prints "node-postgres ok" when every answer is right.
const { Client } = require('pg');

async function worker(url, w) {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    for (let i = 0; i < 40; i++) {
      const r = await c.query({ name: 'add', text: 'SELECT $1::int + $2::int AS v', values: [i, w] });
      if (r.rows[0].v !== i + w) throw new Error(`wrong sum ${r.rows[0].v} for ${i}+${w}`);
      await c.query('BEGIN');
      const t = await c.query({ name: 'txt', text: 'SELECT $1::text AS t', values: ['w' + w] });
      if (t.rows[0].t !== 'w' + w) throw new Error(`wrong text ${t.rows[0].t}`);
      await c.query('COMMIT');
    }
  } finally {
    await c.end();
  }
}

const timer = setTimeout(() => { console.error('timed out'); process.exit(2); }, 120000);
Promise.all([...Array(8).keys()].map((w) => worker(process.argv[2], w)))
  .then(() => { clearTimeout(timer); console.log('node-postgres ok'); })
  .catch((e) => { console.error(e); process.exit(1); });
