import { Injectable } from '@nestjs/common';
import { ShardBy, ShardedEntityManager, ShardingService } from '../../lib/index.js';
import { BankAccount, TransferLeg } from './bank-entities.js';
import { whereAmI } from './where.js';

/** Accounts and transfer legs, each on its account's shard: what the transaction specs move money with. */
@Injectable()
export class BankService {
  constructor(
    protected readonly em: ShardedEntityManager,
    readonly sharding: ShardingService,
  ) {}

  @ShardBy('id')
  async open(id: string, balance: number): Promise<void> {
    this.em.create(BankAccount, { id, balance });
    await this.em.flush();
  }

  /** One leg: the balance moved and a leg row written; says where it ran and whether inside a transaction. */
  @ShardBy('id')
  async move(id: string, transferId: string, amount: number): Promise<{ port: number; inTransaction: boolean }> {
    const account = await this.em.findOneOrFail(BankAccount, id);
    account.balance += amount;
    this.em.create(TransferLeg, { transferId, accountId: id, amount });
    await this.em.flush();
    return { port: (await whereAmI(this.em)).port, inTransaction: this.em.currentRoute()!.inTransaction };
  }
}
