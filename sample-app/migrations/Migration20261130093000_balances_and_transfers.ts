import { Migration } from '@mikro-orm/migrations';

export class Migration20261130093000_balances_and_transfers extends Migration {
  override name = 'Migration20261130093000_balances_and_transfers';

  override up(): void | Promise<void> {
    this.addSql(`alter table "users" add column "balance_cents" bigint not null default 0;`);

    this.addSql(
      `create table "transfer_legs" ("id" bigserial primary key, "transfer_id" bigint not null, "user_id" bigint not null, "amount_cents" bigint not null, "created_at" timestamptz not null);`,
    );
    this.addSql(`create index "transfer_legs_user_id_id_index" on "transfer_legs" ("user_id", "id");`);
    this.addSql(
      `alter table "transfer_legs" add constraint "transfer_legs_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "transfer_legs" cascade;`);
    this.addSql(`alter table "users" drop column "balance_cents";`);
  }
}
