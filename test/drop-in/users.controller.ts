import { Body, Controller, Get, NotFoundException, Param, Post, UseGuards } from '@nestjs/common';
import { CallerGuard } from './caller.guard.js';
import { OrdersService } from './orders.service.js';
import { UsersService } from './users.service.js';

// Unchanged from the @mikro-orm/nestjs app.
@Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly orders: OrdersService,
  ) {}

  @Post()
  register(@Body() body: { id: string; email: string; name: string }) {
    return this.users.register(body.id, body.email, body.name);
  }

  @Get(':id')
  @UseGuards(CallerGuard)
  async profile(@Param('id') id: string) {
    const user = await this.users.profile(id);
    if (!user) throw new NotFoundException(`no user ${id}`);
    return user;
  }

  @Get(':id/by-email/:email')
  @UseGuards(CallerGuard)
  async byEmail(@Param('id') id: string, @Param('email') email: string) {
    return (await this.users.byEmail(id, email)) ?? {};
  }

  @Post(':id/orders')
  @UseGuards(CallerGuard)
  place(@Param('id') id: string, @Body() body: { items: { id: string; total: number }[] }) {
    return this.orders.place(id, body.items);
  }

  @Get(':id/orders')
  @UseGuards(CallerGuard)
  list(@Param('id') id: string) {
    return this.orders.list(id);
  }
}
