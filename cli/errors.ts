// The CLI's own refusals (bad flags and arguments): printed as one `shoal: ` line, with an exit code.
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
