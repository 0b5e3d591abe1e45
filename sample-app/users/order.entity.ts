import { defineEntity, p } from '@mikro-orm/postgresql';
import { User } from './user.entity.js';

/** An order, co-located with its user on the user's shard. */
export const OrderSchema = defineEntity({
  name: 'Order',
  tableName: 'orders',
  properties: {
    id: p.bigint('string').primary(),
    user: () => p.manyToOne(User),
    totalCents: p.integer(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class Order extends OrderSchema.class {}
OrderSchema.setClass(Order);
