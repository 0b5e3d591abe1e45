/**
 * Tables the library keeps in the application's databases. MikroORM's schema generator must leave
 * them alone (`schema.update()` drops every table that is not an entity), so each node's ORM lists
 * them in `schemaGenerator.skipTables`.
 */
export const LIBRARY_TABLES = {
  /** Settings every instance of a deployment shares, on the first shard (the cursor secret). */
  metadata: 'sharding_metadata',
  /** Commit decisions of cross-shard transactions, on the shard that decided each one. */
  transactions: 'sharding_transactions',
} as const;
