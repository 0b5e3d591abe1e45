import { Injectable } from '@nestjs/common';
import { CrossShardQuery, type CrossShardPage, type CrossShardResult } from '../../lib/index.js';
import { Order } from './order.entity.js';
import { User } from './user.entity.js';

/** The user properties a listing may sort on. */
export const USER_SORTS = ['id', 'createdAt', 'email', 'name'] as const;
export type UserSort = (typeof USER_SORTS)[number];

/** Reads over every shard: listings, cursor pages, totals — answers as if one database held every row. */
@Injectable()
export class UsersDirectory {
  constructor(private readonly crossShard: CrossShardQuery) {}

  list(orderBy: UserSort, direction: 'asc' | 'desc', limit: number, offset: number): Promise<CrossShardResult<User>> {
    return this.crossShard.find(User, {}, { orderBy: { [orderBy]: direction }, limit, offset });
  }

  page(orderBy: UserSort, direction: 'asc' | 'desc', first: number, after?: string): Promise<CrossShardPage<User>> {
    return this.crossShard.findByCursor(User, {}, { orderBy: { [orderBy]: direction }, first, after });
  }

  async stats(): Promise<{ users: number; orders: number; orderTotalCents: string }> {
    const [users, orders] = await Promise.all([
      this.crossShard.count(User),
      this.crossShard.aggregate(Order, {}, { count: true, sum: ['totalCents'] }),
    ]);
    const [totals] = orders.items;
    // SUM over an integer column is a bigint in PostgreSQL: exact decimal text, '0' when there are no orders
    return { users: users.count, orders: totals?.count ?? 0, orderTotalCents: String(totals?.sum?.totalCents ?? '0') };
  }
}
