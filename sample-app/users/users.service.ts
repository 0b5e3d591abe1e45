import { Injectable } from '@nestjs/common';
import { ReadReplica, ShardBy, ShardedEntityManager, ShardIdGenerator, type CurrentRoute } from '../../lib/index.js';
import { Order } from './order.entity.js';
import { User } from './user.entity.js';

/** A result plus the node that produced it, so a person can watch the routing. */
export interface Served<T> {
  data: T;
  servedBy: CurrentRoute;
}

export interface CreateUserDto {
  email: string;
  name: string;
}

/**
 * Users and their orders. A user's id is a shard-aware id (ShardIdGenerator), so `@ShardBy('id')`
 * finds its shard with no lookup; orders get ids on their user's shard and live beside it.
 */
@Injectable()
export class UsersService {
  constructor(
    private readonly em: ShardedEntityManager,
    private readonly ids: ShardIdGenerator,
  ) {}

  /** New users are spread over the shards in turn by the id generator. */
  create(dto: CreateUserDto): Promise<Served<User>> {
    return this.insert(this.ids.nextString(), dto);
  }

  @ShardBy('id')
  async insert(id: string, dto: CreateUserDto): Promise<Served<User>> {
    const user = this.em.create(User, { id, email: dto.email, name: dto.name, createdAt: new Date() });
    await this.em.flush();
    return this.served(user);
  }

  @ShardBy('id')
  @ReadReplica()
  async findOne(id: string): Promise<Served<User | null>> {
    return this.served(await this.em.findOne(User, id));
  }

  @ShardBy('id')
  async update(id: string, dto: Partial<CreateUserDto>): Promise<Served<User | null>> {
    const user = await this.em.findOne(User, id);
    if (user) {
      this.em.assign(user, {
        ...(dto.email !== undefined && { email: dto.email }),
        ...(dto.name !== undefined && { name: dto.name }),
      });
      await this.em.flush();
    }
    return this.served(user);
  }

  @ShardBy('userId')
  async addOrder(userId: string, totalCents: number): Promise<Served<Order | null>> {
    const user = await this.em.findOne(User, userId);
    if (!user) return this.served(null);
    const shard = this.em.currentRoute()!.shard;
    const order = this.em.create(Order, { id: this.ids.nextString(shard), user, totalCents, createdAt: new Date() });
    await this.em.flush();
    return this.served(order);
  }

  @ShardBy('userId')
  @ReadReplica()
  async orders(userId: string): Promise<Served<Order[] | null>> {
    const user = await this.em.findOne(User, userId);
    if (!user) return this.served(null);
    return this.served(await this.em.find(Order, { user: userId }, { orderBy: { id: 'asc' } }));
  }

  private served<T>(data: T): Served<T> {
    return { data, servedBy: this.em.currentRoute()! };
  }
}
