/** Statements that write nothing: reads and transaction control. */
const NOT_A_WRITE =
  /^\s*(\(?\s*select|show|explain|values|set|reset|begin|start\s+transaction|commit|rollback|savepoint|release|deallocate|discard)\b/i;
const WITH_WRITE = /^\s*with\b[\s\S]*\b(insert|update|delete|merge)\b/i;

/** True when a statement may change data. */
export function isWriteSql(sql: string): boolean {
  // MikroORM's reads start with exactly this: the answer NOT_A_WRITE gives, without running a regex
  if (sql.startsWith('select ')) return false;
  if (/^\s*with\b/i.test(sql)) return WITH_WRITE.test(sql);
  return !NOT_A_WRITE.test(sql);
}
