import { defineEntity, p } from '@mikro-orm/postgresql';

/** Length of the text columns, varchar(255): the controller rejects longer values with a 400. */
export const TEXT_LENGTH = 255;

/** A user; its id is the shard key, and its orders live on the same shard. */
export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.bigint('string').primary(),
    email: p.string().length(TEXT_LENGTH),
    name: p.string().length(TEXT_LENGTH),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Moved between users (on any shards) by POST /transfers, atomically. */
    balanceCents: p.bigint('number').default(0),
  },
  // GET /users sorts by each of USER_SORTS with the id as tie-breaker (the primary key serves `id`):
  // (column, id) lets each shard read a page, offset or keyset cursor, as one index range scan
  indexes: [{ properties: ['createdAt', 'id'] }, { properties: ['email', 'id'] }, { properties: ['name', 'id'] }],
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
