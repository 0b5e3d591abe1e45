import { BadRequestException, Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { TransfersService, type TransferDto } from './transfers.service.js';
import { userId } from './user-input.js';

/** Largest amount of one transfer or deposit: far below what the bigint column holds. */
const MAX_CENTS = 1_000_000_000_000;

@Controller()
export class TransfersController {
  constructor(private readonly transfers: TransfersService) {}

  /** `POST /transfers { from, to, amountCents }`: 201 with both sides, 404 unknown user, 409 short of funds. */
  @Post('transfers')
  @HttpCode(201)
  transfer(@Body() body: unknown) {
    return this.transfers.transfer(transferInput(body));
  }

  /** `POST /users/:id/deposits { amountCents }`: money from outside, to have something to transfer. */
  @Post('users/:id/deposits')
  @HttpCode(201)
  deposit(@Param('id') id: string, @Body() body: unknown) {
    return this.transfers.deposit(userId(id), amount((body as { amountCents?: unknown } | null)?.amountCents));
  }
}

function transferInput(body: unknown): TransferDto {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestException('Send a JSON object { "from": user id, "to": user id, "amountCents": integer }.');
  }
  const { from, to, amountCents, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length) throw new BadRequestException(`Unknown field(s): ${Object.keys(rest).join(', ')}.`);
  if (typeof from !== 'string' || typeof to !== 'string')
    throw new BadRequestException('"from" and "to" are user ids (strings).');
  const dto = { from: userId(from), to: userId(to), amountCents: amount(amountCents) };
  if (dto.from === dto.to) throw new BadRequestException('"from" and "to" are the same user.');
  return dto;
}

function amount(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_CENTS) {
    throw new BadRequestException(`amountCents must be an integer from 1 to ${MAX_CENTS}.`);
  }
  return value as number;
}
