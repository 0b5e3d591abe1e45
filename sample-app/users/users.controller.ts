import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { InvalidCursorError, ShardRoutingError } from '../../lib/index.js';
import type { Order } from './order.entity.js';
import type { User } from './user.entity.js';
import { newOrder, newUser, userId, userPatch } from './user-input.js';
import { USER_SORTS, UsersDirectory, type UserSort } from './users-directory.service.js';
import { UsersService, type Served } from './users.service.js';

/** The minimal response surface both Express and Fastify replies offer. */
interface HeaderSink {
  header(name: string, value: string): unknown;
}

/**
 * Users and orders over HTTP. Every response says which node served it: the `x-served-by` header
 * (`s0/replica-1`) and a `servedBy` field with shard, node and role.
 */
@Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly directory: UsersDirectory,
  ) {}

  /**
   * Users of every shard in one order. `?orderBy=createdAt&order=desc&limit=20&offset=40` pages by
   * offset; `?first=20&after=<nextCursor>` pages by keyset cursor (`{ items, nextCursor }`), as fast
   * on page 1,000 as on page 1.
   */
  @Get()
  async list(@Query() query: Record<string, string | undefined>) {
    const orderBy = (query.orderBy ?? 'createdAt') as UserSort;
    if (!USER_SORTS.includes(orderBy))
      throw new BadRequestException(`orderBy must be one of ${USER_SORTS.join(', ')}.`);
    const order = query.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') throw new BadRequestException('order must be asc or desc.');
    if (query.first !== undefined || query.after !== undefined) {
      const first = whole(query.first ?? '20', 'first', 1, 100);
      try {
        const page = await this.directory.page(orderBy, order, first, query.after || undefined);
        return { items: page.items, nextCursor: page.nextCursor };
      } catch (error) {
        if (error instanceof InvalidCursorError) throw new BadRequestException(error.message);
        throw error;
      }
    }
    const limit = whole(query.limit ?? '20', 'limit', 1, 100);
    // the library's crossShard.maxOffset (default 1000): deeper pages take the cursor
    const offset = whole(query.offset ?? '0', 'offset', 0, 1_000);
    return { items: (await this.directory.list(orderBy, order, limit, offset)).items };
  }

  @Post()
  async create(@Body() body: unknown, @Res({ passthrough: true }) res: HeaderSink) {
    return reply(res, await this.users.create(newUser(body)));
  }

  @Get(':id')
  async findOne(@Param('id') id: string, @Res({ passthrough: true }) res: HeaderSink) {
    const key = userId(id);
    return reply(res, await this.forUser(key, () => this.users.findOne(key)));
  }

  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) res: HeaderSink) {
    const key = userId(id);
    const patch = userPatch(body);
    await this.forUser(key, () => this.users.update(key, patch));
    // read back as any later GET would (a replica): read-your-writes makes it see this update
    return reply(res, await this.forUser(key, () => this.users.findOne(key)));
  }

  @Post(':id/orders')
  @HttpCode(201)
  async addOrder(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) res: HeaderSink) {
    const key = userId(id);
    const totalCents = newOrder(body);
    return reply(res, await this.forUser(key, () => this.users.addOrder(key, totalCents)));
  }

  @Get(':id/orders')
  async orders(@Param('id') id: string, @Res({ passthrough: true }) res: HeaderSink) {
    const key = userId(id);
    return reply(res, await this.forUser(key, () => this.users.orders(key)));
  }

  /**
   * Runs `call`, routed by the user id `id` (a well-formed one: see `userId`); 404 when no user has it.
   * Ids embed their shard: one that names no shard of this topology, or a negative one, is refused by
   * snowflakeStrategy (ShardRoutingError), and no user can have it either.
   */
  private async forUser<T>(id: string, call: () => Promise<Served<T | null>>): Promise<Served<T>> {
    let served: Served<T | null>;
    try {
      served = await call();
    } catch (error) {
      if (error instanceof ShardRoutingError) throw new NotFoundException(`No user ${id}.`);
      throw error;
    }
    if (served.data === null) throw new NotFoundException(`No user ${id}.`);
    return served as Served<T>;
  }
}

function whole(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new BadRequestException(`${name} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

function reply<T extends User | Order | Order[]>(res: HeaderSink, served: Served<T>) {
  res.header('x-served-by', served.servedBy.node);
  return served;
}
