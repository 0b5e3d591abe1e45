import { defineEntity, EntityRepository, p } from '@mikro-orm/postgresql';

/** A custom repository, as MikroORM apps write them. */
export class UserRepository extends EntityRepository<User> {
  findByEmail(email: string): Promise<User | null> {
    return this.findOne({ email });
  }
}

export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'drop_in_users',
  repository: () => UserRepository,
  properties: {
    id: p.string().primary(),
    email: p.string(),
    name: p.string(),
  },
});
export class User extends UserSchema.class {}
UserSchema.setClass(User);

/** An order lives with its user: its shard key is `userId`. */
export const OrderSchema = defineEntity({
  name: 'Order',
  tableName: 'drop_in_orders',
  properties: {
    id: p.string().primary(),
    userId: p.string(),
    total: p.integer(),
  },
});
export class Order extends OrderSchema.class {}
OrderSchema.setClass(Order);
