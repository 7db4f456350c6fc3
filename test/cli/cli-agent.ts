// A real agent as the CLI meets it: `vigil run --config FILE` in its own
// process, listening where its config says (free ports chosen here), with an
// admin token file. The CLI under test finds it through that same file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runVigil, spawnVigil, tempDir, type VigilProcess } from '../helpers/agent.js';
import { freePort } from '../harness/ports.js';

export const TOKEN = 'cli-test-admin-token-0123456789abcdef';

export interface CliAgent {
  readonly dir: string;
  readonly file: string;
  readonly url: string;
  readonly adminUrl: string;
  readonly tokenFile: string;
  readonly process: VigilProcess;
  /** `vigil ARGS --config FILE` (the config flag added unless `withConfig` is false). */
  vigil(args: string[], withConfig?: boolean): Promise<{ code: number | string; stdout: string; stderr: string }>;
  status(): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- /status JSON, read loosely by tests
  stop(): Promise<void>;
}

/** `body` is the config below `agent:`/`admin:` (probes, remediations, coordination, groups…); `agentExtra` lines go under agent:. */
export async function startCliAgent(body: string, agentExtra = ''): Promise<CliAgent> {
  const { dir, cleanup } = tempDir('vigil-cli-');
  const [port, adminPort] = [await freePort(), await freePort()];
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const file = join(dir, 'vigil.yaml');
  writeFileSync(file, `agent:\n  listen: 127.0.0.1:${port}\n  state_dir: ${dir}/state\n  startup_grace: 0s\n  log_level: info\n${agentExtra}`
    + `admin:\n  listen: 127.0.0.1:${adminPort}\n  token_file: ${tokenFile}\n${body}`);
  const p = spawnVigil(['run', '--config', file]);
  try {
    await p.waitForLog('admin API listening', (l) => l.msg === 'admin API listening', 30_000);
  } catch (err) {
    p.kill('SIGKILL');
    cleanup();
    throw new Error(`${(err as Error).message}\nstderr: ${p.stderr()}\nstdout: ${p.stdout().slice(-2000)}`);
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    dir, file, url, adminUrl: `http://127.0.0.1:${adminPort}`, tokenFile, process: p,
    vigil: (args, withConfig = true) => runVigil(withConfig ? [...args, '--config', file] : args),
    status: async () => (await fetch(`${url}/status`)).json(),
    stop: async () => {
      p.kill('SIGTERM');
      const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
      if (code === 'timeout') { p.kill('SIGKILL'); await p.exited; }
      cleanup();
    },
  };
}
