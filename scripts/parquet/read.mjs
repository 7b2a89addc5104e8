// Reads Parquet files with hyparquet (not vggnb's Go reader) and prints, for
// each, its rows and key/value metadata as one JSON line:
//   node read.mjs FILE.parquet...
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'

for (const path of process.argv.slice(2)) {
  const file = await asyncBufferFromFile(path)
  const metadata = await parquetMetadataAsync(file)
  const rows = await parquetReadObjects({ file })
  const kv = {}
  for (const { key, value } of metadata.key_value_metadata ?? []) kv[key] = value
  process.stdout.write(JSON.stringify({
    path,
    rows: rows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]))),
    row_groups: metadata.row_groups.length,
    metadata: kv,
  }) + '\n')
}
