/** A command line or config file the CLI cannot use: it prints the message and the usage, and exits 64. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}
