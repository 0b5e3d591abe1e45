import { defineEntity, p } from '@mikro-orm/postgresql';

/** The entity the migrations spec creates its first migration from. */
export const WidgetSchema = defineEntity({
  name: 'Widget',
  tableName: 'widgets',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string(),
  },
});

export class Widget extends WidgetSchema.class {}
WidgetSchema.setClass(Widget);

/** Added later: its table is the second migration. */
export const GadgetSchema = defineEntity({
  name: 'Gadget',
  tableName: 'gadgets',
  properties: {
    id: p.integer().primary().autoincrement(),
    label: p.string(),
  },
});

export class Gadget extends GadgetSchema.class {}
GadgetSchema.setClass(Gadget);
