import { defineEntity, p } from '@mikro-orm/postgresql';

/**
 * One key of the fault run's list-append workload (Elle's model): `vals` is the key's list, in
 * append order. The key is also the shard key.
 */
export const KeyListSchema = defineEntity({
  name: 'KeyList',
  tableName: 'key_list',
  properties: {
    key: p.string().primary(),
    // pg parses integer[] into numbers; MikroORM sends the array as a '{1,2}' literal
    vals: p.array<number>(Number, String).columnType('integer[]'),
  },
});

export class KeyList extends KeyListSchema.class {}
KeyListSchema.setClass(KeyList);
