import { defineEntity, p } from '@mikro-orm/postgresql';
import { User } from './user.entity.js';

/**
 * One side of a transfer, beside its user (on the user's shard): a transfer between users on two shards
 * has one leg on each, written in one cross-shard transaction, so both exist or neither does.
 */
export const TransferLegSchema = defineEntity({
  name: 'TransferLeg',
  tableName: 'transfer_legs',
  properties: {
    id: p.bigint('string').primary(),
    transferId: p.bigint('string'),
    user: () => p.manyToOne(User),
    amountCents: p.bigint('number'),
    createdAt: p.datetime(),
  },
  indexes: [{ properties: ['user', 'id'] }],
});

export class TransferLeg extends TransferLegSchema.class {}
TransferLegSchema.setClass(TransferLeg);
