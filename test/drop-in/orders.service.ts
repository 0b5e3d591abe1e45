import { InjectRepository } from '@mikro-orm/nestjs';
import { EntityManager, EntityRepository } from '@mikro-orm/postgresql';
import { BadRequestException, Injectable } from '@nestjs/common';
import { ReadReplica, ShardBy } from '../../lib/index.js';
import { Transactional } from '@mikro-orm/decorators/legacy';
import { Order } from './entities.js';

// Written for @mikro-orm/nestjs. Switched to sharding by adding the routing decorators only (marked below).
// (`Transactional` comes from a stand-in of @mikro-orm/decorators/legacy until that package is installed.)
@Injectable()
export class OrdersService {
  constructor(
    private readonly em: EntityManager,
    @InjectRepository(Order) private readonly orders: EntityRepository<Order>,
  ) {}

  /** Places the orders in one transaction: one bad total and none of them is kept. */
  @ShardBy('userId') // added
  @Transactional()
  async place(userId: string, items: { id: string; total: number }[]): Promise<Order[]> {
    const placed: Order[] = [];
    for (const item of items) {
      placed.push(this.orders.create({ id: item.id, userId, total: item.total }));
      await this.em.flush(); // each order is sent at once, so a later failure must roll it back
      if (item.total < 0) throw new BadRequestException(`order ${item.id}: the total cannot be negative`);
    }
    return placed;
  }

  @ShardBy('userId') // added
  @ReadReplica() // added
  async list(userId: string): Promise<Order[]> {
    return this.orders.find({ userId }, { orderBy: { id: 'asc' } });
  }
}
