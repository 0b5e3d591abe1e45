/**
 * Base class of every error this library throws. Catch it to handle all sharding problems at once;
 * each subclass's message names the method or node involved and says how to fix it.
 */
export class ShardingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
