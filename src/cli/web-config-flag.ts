// `--web.config.file WEB` (run, check-config): the main listener's TLS and
// basic auth from a file in exporter-toolkit's format, overriding
// agent.web_config_file.
import { formatProblems } from '../config/load.js';
import { loadWebConfigFile, type WebConfig } from '../config/web-config.js';

/** The file read and checked: undefined when not given, a number (the exit code, problems printed) when bad. */
export function webConfigFlag(web: string | undefined): WebConfig | number | undefined {
  if (web === undefined) return undefined;
  const r = loadWebConfigFile(web);
  if (r.ok) return r.value;
  process.stderr.write(formatProblems(web, r.problems));
  return 2;
}
