import { Migration } from '@mikro-orm/migrations';

export class Migration20261130073943_users_and_orders extends Migration {
  override name = 'Migration20261130073943_users_and_orders';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "users" ("id" bigserial primary key, "email" varchar(255) not null, "name" varchar(255) not null, "created_at" timestamptz not null);`,
    );
    this.addSql(`create index "users_created_at_id_index" on "users" ("created_at", "id");`);
    this.addSql(`create index "users_email_id_index" on "users" ("email", "id");`);
    this.addSql(`create index "users_name_id_index" on "users" ("name", "id");`);

    this.addSql(
      `create table "orders" ("id" bigserial primary key, "user_id" bigint not null, "total_cents" int not null, "created_at" timestamptz not null);`,
    );
    this.addSql(`create index "orders_user_id_id_index" on "orders" ("user_id", "id");`);

    this.addSql(
      `alter table "orders" add constraint "orders_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "orders" drop constraint "orders_user_id_foreign";`);

    this.addSql(`drop table if exists "users" cascade;`);
    this.addSql(`drop table if exists "orders" cascade;`);
  }
}
