import { defineEntity, p } from '@mikro-orm/postgresql';

/** An account whose id is its shard key; balances move between shards in transfers. */
export const BankAccountSchema = defineEntity({
  name: 'BankAccount',
  tableName: 'bank_accounts',
  properties: {
    id: p.string().primary(),
    balance: p.integer(),
  },
});
export class BankAccount extends BankAccountSchema.class {}
BankAccountSchema.setClass(BankAccount);

/** One side of a transfer, on the shard of its account: a transfer is whole when both legs exist. */
export const TransferLegSchema = defineEntity({
  name: 'TransferLeg',
  tableName: 'transfer_legs',
  properties: {
    transferId: p.string().primary(),
    accountId: p.string().primary(),
    amount: p.integer(),
  },
});
export class TransferLeg extends TransferLegSchema.class {}
TransferLegSchema.setClass(TransferLeg);

/** A reference entity: copied on every shard. */
export const CurrencySchema = defineEntity({
  name: 'Currency',
  tableName: 'currencies',
  properties: {
    code: p.string().primary(),
    name: p.string(),
  },
});
export class Currency extends CurrencySchema.class {}
CurrencySchema.setClass(Currency);

export const BANK_ENTITIES = [BankAccount, TransferLeg, Currency];
