import { defineEntity, p } from '@mikro-orm/postgresql';
import { User } from './user.entity.js';

/** An order, co-located with its user on the user's shard. */
export const OrderSchema = defineEntity({
  name: 'Order',
  tableName: 'orders',
  properties: {
    id: p.bigint('string').primary(),
    // no index of its own: (user_id, id) below serves the foreign key and joins too
    user: () => p.manyToOne(User).index(false),
    totalCents: p.integer(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  // a user's orders, listed by id (GET /users/:id/orders), in one index range scan
  indexes: [{ properties: ['user', 'id'] }],
});

export class Order extends OrderSchema.class {}
OrderSchema.setClass(Order);
