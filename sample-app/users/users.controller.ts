import {
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
  BadRequestException,
} from '@nestjs/common';
import { InvalidCursorError } from '../../lib/index.js';
import type { Order } from './order.entity.js';
import type { User } from './user.entity.js';
import { USER_SORTS, UsersDirectory, type UserSort } from './users-directory.service.js';
import { UsersService, type CreateUserDto, type Served } from './users.service.js';

/** The minimal response surface both Express and Fastify replies offer. */
interface HeaderSink {
  header(name: string, value: string): unknown;
}

const ID = /^\d{1,20}$/;

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
    const offset = whole(query.offset ?? '0', 'offset', 0, 100_000);
    return { items: (await this.directory.list(orderBy, order, limit, offset)).items };
  }

  @Post()
  async create(@Body() body: Partial<CreateUserDto>, @Res({ passthrough: true }) res: HeaderSink) {
    if (typeof body?.email !== 'string' || typeof body?.name !== 'string') {
      throw new BadRequestException('Send { "email": string, "name": string }.');
    }
    return reply(res, await this.users.create({ email: body.email, name: body.name }));
  }

  @Get(':id')
  async findOne(@Param('id') id: string, @Res({ passthrough: true }) res: HeaderSink) {
    return reply(res, found(await this.users.findOne(checkId(id)), 'user', id));
  }

  @Patch(':id')
  async update(
    @Param('id') id: string,
    @Body() body: Partial<CreateUserDto>,
    @Res({ passthrough: true }) res: HeaderSink,
  ) {
    found(await this.users.update(checkId(id), body ?? {}), 'user', id);
    // read back as any later GET would (a replica): read-your-writes makes it see this update
    return reply(res, found(await this.users.findOne(id), 'user', id));
  }

  @Post(':id/orders')
  @HttpCode(201)
  async addOrder(
    @Param('id') id: string,
    @Body() body: { totalCents?: unknown },
    @Res({ passthrough: true }) res: HeaderSink,
  ) {
    if (!Number.isInteger(body?.totalCents)) throw new BadRequestException('Send { "totalCents": integer }.');
    return reply(res, found(await this.users.addOrder(checkId(id), body.totalCents as number), 'user', id));
  }

  @Get(':id/orders')
  async orders(@Param('id') id: string, @Res({ passthrough: true }) res: HeaderSink) {
    return reply(res, found(await this.users.orders(checkId(id)), 'user', id));
  }
}

function whole(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new BadRequestException(`${name} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

function checkId(id: string): string {
  if (!ID.test(id)) throw new BadRequestException(`"${id.slice(0, 40)}" is not a user id (a decimal 64-bit integer).`);
  return id;
}

function found<T>(served: Served<T | null>, what: string, id: string): Served<T> {
  if (served.data === null) throw new NotFoundException(`No ${what} ${id}.`);
  return served as Served<T>;
}

function reply<T extends User | Order | Order[]>(res: HeaderSink, served: Served<T>) {
  res.header('x-served-by', served.servedBy.node);
  return served;
}
