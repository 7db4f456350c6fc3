// vigil's command line: one line per subcommand here, the commands in
// src/cli/ (one file per group). Each returns an exit code and never prints
// a stack trace for bad input.
import { packageVersion } from './version.js';
import { runCommand, RUN_USAGE } from './cli/run.js';
import { CHECK_USAGE, checkConfigCommand, PROBE_USAGE, probeCommand } from './cli/config-commands.js';
import { STATUS_USAGE, statusCommand } from './cli/status.js';
import { ADMIN_USAGE, acknowledgeCommand, groupAdminCommand, pauseCommand, ruleCommand } from './cli/admin.js';
import { LIST_USAGE, clusterListCommand, groupListCommand } from './cli/list.js';

type Command = (args: readonly string[], env: NodeJS.ProcessEnv) => Promise<number>;

const USAGE = `usage (every command takes --config FILE, default /etc/vigil/vigil.yaml; docs/cli.md):
  ${RUN_USAGE}
      run the agent
  ${CHECK_USAGE}
      validate a config; exit 0 valid, 2 not
  ${PROBE_USAGE}
      run one probe once; exit 0 ok, 1 failed
  ${STATUS_USAGE}
      the agent's one screen; exit 0 ready, 1 warning or critical, 2 unreachable
  ${ADMIN_USAGE.pause}   |   vigil resume
  ${ADMIN_USAGE.reset}
  ${ADMIN_USAGE.run}
  ${LIST_USAGE.cluster}
  ${ADMIN_USAGE.acknowledge}
  ${LIST_USAGE.group}
  ${ADMIN_USAGE.switchover}
  vigil group pause|resume GROUP [--note TEXT] [--config FILE]
  vigil --version
`;

/** `vigil cluster VERB …` and `vigil group VERB …`. */
function sub(name: string, verbs: Readonly<Record<string, Command>>): Command {
  return (args, env) => {
    const [verb, ...rest] = args;
    const c = verb === undefined ? undefined : verbs[verb];
    if (c) return c(rest, env);
    process.stderr.write(`vigil ${name}: ${verb === undefined ? 'which?' : `unknown "${verb}"`} (${Object.keys(verbs).join(', ')})\n${USAGE}`);
    return Promise.resolve(2);
  };
}

const COMMANDS: Readonly<Record<string, Command>> = {
  run: runCommand,
  'check-config': checkConfigCommand,
  probe: probeCommand,
  status: statusCommand,
  pause: (a, e) => pauseCommand(a, e, true),
  resume: (a, e) => pauseCommand(a, e, false),
  rule: ruleCommand,
  cluster: sub('cluster', { list: clusterListCommand, acknowledge: acknowledgeCommand }),
  group: sub('group', {
    list: groupListCommand, switchover: (a, e) => groupAdminCommand('switchover', a, e),
    pause: (a, e) => groupAdminCommand('pause', a, e), resume: (a, e) => groupAdminCommand('resume', a, e),
  }),
};

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === 'version') { process.stdout.write(`vigil ${packageVersion()} (node ${process.version})\n`); return 0; }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') { process.stdout.write(USAGE); return command === undefined ? 2 : 0; }
  const c = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!c) { process.stderr.write(`vigil: unknown command "${command}"\n${USAGE}`); return 2; }
  return c(rest, env);
}
