#!/usr/bin/env node
import 'reflect-metadata';
import { runCli } from './run-cli.js';

// the pools are closed by then; the timer only ends a process something else would keep alive
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
setTimeout(() => process.exit(code), 2_000).unref();
