import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { LockMode } from '@mikro-orm/core';
import { CrossShardTransaction, ShardBy, ShardedEntityManager, ShardIdGenerator } from '../../lib/index.js';
import { TransferLeg } from './transfer-leg.entity.js';
import { User } from './user.entity.js';
import type { Served } from './users.service.js';

export interface TransferDto {
  from: string;
  to: string;
  amountCents: number;
}

export interface LegResult {
  userId: string;
  balanceCents: number;
  servedBy: Served<unknown>['servedBy'];
}

/**
 * Balances moved between users, wherever their shards are: both legs in one cross-shard transaction
 * (`@CrossShardTransaction()`), so money is never debited without being credited.
 */
@Injectable()
export class TransfersService {
  constructor(
    private readonly em: ShardedEntityManager,
    private readonly ids: ShardIdGenerator,
  ) {}

  @CrossShardTransaction()
  async transfer(dto: TransferDto): Promise<{ transferId: string; from: LegResult; to: LegResult }> {
    const transferId = this.ids.nextString();
    const from = await this.leg(dto.from, transferId, -dto.amountCents);
    const to = await this.leg(dto.to, transferId, dto.amountCents);
    return { transferId, from, to };
  }

  @ShardBy('userId')
  async deposit(userId: string, amountCents: number): Promise<LegResult> {
    const depositId = this.ids.nextString(this.em.currentRoute()!.shard);
    // one shard: an ordinary transaction (the leg locks the user's row)
    return this.em.transactional(() => this.leg(userId, depositId, amountCents));
  }

  /** One side, inside a transaction: the user's row locked, its balance moved, a leg written beside it (on the user's shard). */
  @ShardBy('userId')
  async leg(userId: string, transferId: string, amountCents: number): Promise<LegResult> {
    const user = await this.em.findOne(User, userId, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!user) throw new NotFoundException(`No user has id ${userId}.`);
    if (user.balanceCents + amountCents < 0) {
      throw new ConflictException(`User ${userId} has ${user.balanceCents} cents, less than ${-amountCents}.`);
    }
    user.balanceCents += amountCents;
    const shard = this.em.currentRoute()!.shard;
    this.em.create(TransferLeg, {
      id: this.ids.nextString(shard),
      transferId,
      user,
      amountCents,
      createdAt: new Date(),
    });
    await this.em.flush();
    return { userId, balanceCents: user.balanceCents, servedBy: this.em.currentRoute()! };
  }
}
