import { BadRequestException } from '@nestjs/common';
import { TEXT_LENGTH } from './user.entity.js';
import type { CreateUserDto } from './users.service.js';

/**
 * Checks of what clients send, so that ordinary bad input is a 400 saying what to fix, never a
 * statement PostgreSQL rejects (a 500). The limits are the columns': varchar(255), int4, int8.
 */

const INT4_MIN = -(2 ** 31);
const INT4_MAX = 2 ** 31 - 1;
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;
/** A decimal integer written the one way PostgreSQL prints it: ASCII digits, no '+', spaces or leading zeros. */
const DECIMAL = /^(0|-?[1-9]\d*)$/;
/** A UTF-16 surrogate without its pair: not Unicode text; sent to PostgreSQL it would silently become U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

/** A user id: a decimal 64-bit signed integer (PostgreSQL's bigint), else 400. */
export function userId(text: string): string {
  if (DECIMAL.test(text) && text.length <= 20) {
    const value = BigInt(text);
    if (value >= INT8_MIN && value <= INT8_MAX) return text;
  }
  throw new BadRequestException(`${show(text)} is not a user id (a decimal 64-bit integer).`);
}

/** `POST /users`: `{ email, name }`, both required. */
export function newUser(body: unknown): CreateUserDto {
  const fields = fieldsOf(body, ['email', 'name'], 'Send a JSON object { "email": string, "name": string }');
  return { email: text(fields.email, 'email'), name: text(fields.name, 'name') };
}

/** `PATCH /users/:id`: `{ email?, name? }`, at least one. */
export function userPatch(body: unknown): Partial<CreateUserDto> {
  const fields = fieldsOf(body, ['email', 'name'], 'Send a JSON object { "email"?: string, "name"?: string }');
  const patch: Partial<CreateUserDto> = {};
  if ('email' in fields) patch.email = text(fields.email, 'email');
  if ('name' in fields) patch.name = text(fields.name, 'name');
  if (Object.keys(patch).length === 0) {
    throw new BadRequestException('Nothing to update: send "email", "name" or both.');
  }
  return patch;
}

/** `POST /users/:id/orders`: `{ totalCents }`, an integer the int4 column holds. */
export function newOrder(body: unknown): number {
  const { totalCents } = fieldsOf(body, ['totalCents'], 'Send a JSON object { "totalCents": integer }');
  if (!isInt4(totalCents)) {
    throw new BadRequestException(`totalCents must be an integer from ${INT4_MIN} to ${INT4_MAX}.`);
  }
  return totalCents;
}

/** An integer PostgreSQL's int4 holds: 2^31, 1e308, 1.5 and '10' are not. */
function isInt4(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= INT4_MIN && (value as number) <= INT4_MAX;
}

/** The body as a JSON object with no field outside `allowed`, else 400. */
function fieldsOf(body: unknown, allowed: readonly string[], shape: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestException(`${shape}.`);
  }
  const unknown = Object.keys(body).find((key) => !allowed.includes(key));
  if (unknown !== undefined) throw new BadRequestException(`Unknown field ${show(unknown)}. ${shape}.`);
  return body as Record<string, unknown>;
}

/** A non-blank string of at most TEXT_LENGTH characters that PostgreSQL can store, else 400. */
function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new BadRequestException(`${field} must be a string.`);
  if (value.trim() === '') throw new BadRequestException(`${field} must not be empty.`);
  if (value.includes('\u0000')) throw new BadRequestException(`${field} must not contain a NUL character (\\u0000).`);
  if (LONE_SURROGATE.test(value)) throw new BadRequestException(`${field} must be valid Unicode (no lone surrogate).`);
  // varchar(n) counts characters (code points), not UTF-16 units
  if ([...value].length > TEXT_LENGTH) {
    throw new BadRequestException(`${field} must be at most ${TEXT_LENGTH} characters.`);
  }
  return value;
}

/** Client text quoted for a message: JSON-escaped, cut to 40 characters. */
function show(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
