import { Engine } from './src/engine/engine.ts';
const e = await Engine.open();
await e.withSession(async (s) => {
  await s.run(`CREATE TEMP TABLE t AS SELECT * FROM read_csv(['/tmp/exp/u.csv'], header=true, delim=',', quote='"', columns={'user_id':'BIGINT','signup_date':'DATE','country':'VARCHAR','plan':'VARCHAR'}, store_rejects=true, rejects_table='rj_e', rejects_scan='rj_s')`);
  console.log(await s.queryJson('select * from t'));
  console.log(await s.queryJson('select * from rj_e'));
  console.log(await s.queryJson('select * from rj_s'));
  const r = await s.query(`COPY (select * from t order by all) TO '/tmp/exp/o.parquet' (FORMAT parquet, COMPRESSION zstd)`);
  console.log(r);
  console.log(await s.queryJson(`select * from read_text(['/tmp/exp/u.csv'])`));
});
