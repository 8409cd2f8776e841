// The @devoxa/integresql-client README flow against `devenv serve-tests`:
// node flow.js URL COUNT ROLE. Hash the migrations, initialise the template (migrate it in the
// callback), then COUNT test databases, each isolated from the others and owned by ROLE.
const fs = require('fs')
const { Client } = require('pg')
const { IntegreSQLClient } = require('@devoxa/integresql-client')

async function query(config, sql, params) {
  const client = new Client({
    host: config.host, port: config.port, user: config.username,
    password: config.password, database: config.database,
  })
  await client.connect()
  try {
    return (await client.query(sql, params)).rows
  } finally {
    await client.end()
  }
}

async function main() {
  const [url, count, role] = process.argv.slice(2)
  const integreSQL = new IntegreSQLClient({ url })
  const hash = await integreSQL.hashFiles(['./migrations/**/*'])
  let migrated = false
  await integreSQL.initializeTemplate(hash, async (databaseConfig) => {
    await query(databaseConfig, fs.readFileSync('./migrations/001.sql', 'utf8'))
    migrated = true
  })
  if (!migrated) throw new Error('the template callback did not run')
  // a second runner process: told it is initialised (423), no callback
  await integreSQL.initializeTemplate(hash, async () => {
    throw new Error('migrated twice')
  })
  const configs = []
  for (let i = 0; i < Number(count); i++) {
    configs.push(await integreSQL.getTestDatabase(hash))
  }
  const names = new Set(configs.map((c) => c.database))
  if (names.size !== configs.length) throw new Error('a test database was handed out twice')
  for (const [i, config] of configs.entries()) {
    if (config.username !== role) throw new Error(`owner ${config.username}, not ${role}`)
    await query(config, 'INSERT INTO item VALUES ($1)', [`test${i}`])
  }
  for (const [i, config] of configs.entries()) {
    const rows = await query(config, 'SELECT name FROM item ORDER BY name')
    const seen = rows.map((r) => r.name).join(',')
    if (seen !== `seed,test${i}`) throw new Error(`database ${i} sees ${seen}`)
    const owner = await query(config, 'SELECT pg_get_userbyid(datdba) AS o FROM pg_database ' +
      'WHERE datname = current_database()')
    if (owner[0].o !== role) throw new Error(`database ${i} is owned by ${owner[0].o}`)
  }
  // the golden template: no initialising at all
  const golden = await integreSQL.getTestDatabase('devenv-auth')
  const tables = await query(golden, "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'")
  if (Number(tables[0].n) === 0) throw new Error('the golden template has no tables')
  console.log(`${configs.length} isolated test databases`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
