import { defineEntity, p } from '@mikro-orm/postgresql';

/** A small entity for integration tests. */
export const NoteSchema = defineEntity({
  name: 'Note',
  tableName: 'notes',
  properties: {
    id: p.integer().primary().autoincrement(),
    body: p.string(),
  },
});

export class Note extends NoteSchema.class {}
NoteSchema.setClass(Note);

/** An entity keyed by a string id: the shard key in routing tests. */
export const AccountSchema = defineEntity({
  name: 'Account',
  tableName: 'accounts',
  properties: {
    id: p.string().primary(),
    name: p.string(),
  },
});

export class Account extends AccountSchema.class {}
AccountSchema.setClass(Account);
