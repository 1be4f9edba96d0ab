/**
 * The one error type of the agent. It is only ever thrown by createAgent() for options the host
 * got wrong; after that, nothing the agent does throws into the host (errors are counted in the
 * report's `drops.errors` and logged at most once per interval).
 */
export class AgentError extends Error {
  constructor(
    public readonly code: 'invalid_option',
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}
