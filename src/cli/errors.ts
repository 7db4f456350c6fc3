// The CLI's own errors: a stable code, a sentence that says what to do, and
// the exit code (2: could not ask at all — usage, config, unreachable;
// 1: asked, and the answer was no). Every code is listed in docs/cli.md.
export const CLI_ERRORS = {
  VIGIL_E_CLI_USAGE: 'the command line is not one vigil understands',
  VIGIL_E_CLI_CONFIG: 'the config file could not be read for the keys this command needs',
  VIGIL_E_AGENT_UNREACHABLE: 'nothing answered at the agent\'s (or admin API\'s) address',
  VIGIL_E_AGENT_ANSWER: 'the agent answered with something that is not what this command expects',
  VIGIL_E_ADMIN_OFF: 'the config has no admin.token_file, so the admin API is off',
  VIGIL_E_TOKEN_FILE: 'the admin token file could not be read',
  VIGIL_E_ADMIN_REFUSED: 'the admin API answered with an error (its own code is printed too)',
  VIGIL_E_NO_COORDINATION: 'the config has no coordination: section, so there is no etcd to read',
  VIGIL_E_ETCD_UNAVAILABLE: 'etcd did not answer',
  VIGIL_E_NOT_FOUND: 'etcd holds nothing under that cluster or group name',
} as const;

export type CliErrorCode = keyof typeof CLI_ERRORS;

export class CliError extends Error {
  constructor(readonly code: CliErrorCode, message: string, readonly exitCode: 1 | 2 = 2) {
    super(message);
  }
}

/** One line on stderr: `vigil COMMAND: CODE: what happened; what to do`. */
export function reportError(command: string, err: unknown): number {
  if (err instanceof CliError) {
    process.stderr.write(`vigil ${command}: ${err.code}: ${err.message}\n`);
    return err.exitCode;
  }
  throw err;
}
