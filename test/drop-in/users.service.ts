import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { ReadReplica, ShardBy } from '../../lib/index.js';
import { User, UserRepository } from './entities.js';

// Written for @mikro-orm/nestjs. Switched to sharding by adding the routing decorators only (marked below).
@Injectable()
export class UsersService {
  constructor(
    private readonly em: EntityManager,
    private readonly users: UserRepository,
  ) {}

  @ShardBy('id') // added
  async register(id: string, email: string, name: string): Promise<User> {
    const user = this.users.create({ id, email, name });
    await this.em.flush();
    return user;
  }

  @ShardBy('id') // added
  @ReadReplica() // added
  async profile(id: string): Promise<User | null> {
    return this.users.findOne(id);
  }

  @ShardBy('id') // added
  @ReadReplica() // added
  async byEmail(id: string, email: string): Promise<User | null> {
    const user = await this.users.findByEmail(email);
    return user?.id === id ? user : null;
  }
}
