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
