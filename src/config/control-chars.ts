// No configuration string may carry a line break or another control character. Many end up in
// mail or HTTP headers (From, List-Id, List-Unsubscribe from the public URL, the organisation's
// name, webhook and notify targets, tokens), where a CR or LF would inject headers or make every
// message fail at send time, hours after `config check` said yes. One rule for every string is
// simpler to trust than a list of the header-bound ones, which grows with every feature.

/** Paths (dot-joined, array indexes as `*`) whose text may span lines: LF is allowed there, nothing else. */
const MULTILINE = new Set(['organisation.postalAddress']);

// C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const CONTROL_EXCEPT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

export interface ControlCharIssue {
  path: string;
  message: string;
}

/** Every string in the configuration that holds a control character, with its path. */
export function controlCharIssues(value: unknown, path: string[] = []): ControlCharIssue[] {
  if (typeof value === 'string') {
    const multiline = MULTILINE.has(path.map((p) => (/^\d+$/.test(p) ? '*' : p)).join('.'));
    if (!(multiline ? CONTROL_EXCEPT_LF : CONTROL).test(value)) return [];
    return [
      {
        path: path.join('.'),
        message: multiline ? 'must not contain control characters other than line breaks (\\n)' : 'must not contain line breaks or other control characters',
      },
    ];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => controlCharIssues(item, [...path, String(i)]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => controlCharIssues(item, [...path, key]));
  return [];
}

/**
 * The environment variables the configuration names (`secretEnv`, `urlEnv`, `credentialsEnv`,
 * console `tokens[].env`, ...): their values become header values too (a bearer token, a Slack
 * URL), so they are held to the same rule. Values are never echoed, only the variable's name.
 */
export function namedEnvIssues(config: unknown, env: NodeJS.ProcessEnv, path: string[] = []): ControlCharIssue[] {
  if (Array.isArray(config)) return config.flatMap((item, i) => namedEnvIssues(item, env, [...path, String(i)]));
  if (!config || typeof config !== 'object') return [];
  return Object.entries(config).flatMap(([key, item]) => {
    const here = [...path, key];
    // Key material (a PEM private key) is many lines by nature, and never goes into a header.
    const keyMaterial = /(?:privateKey|[sS]igningKeys?|[kK]eyPem)Env$/.test(key);
    const names = !keyMaterial && (/Env$/.test(key) || (key === 'env' && path[path.length - 2] === 'tokens')) ? envNames(item) : [];
    const issues = names.flatMap(([sub, name]) => {
      const value = env[name];
      return value !== undefined && CONTROL.test(value)
        ? [{ path: [...here, ...sub].join('.'), message: `the value of ${name} must not contain line breaks or other control characters` }]
        : [];
    });
    return [...issues, ...namedEnvIssues(item, env, here)];
  });
}

function envNames(item: unknown): Array<[string[], string]> {
  if (typeof item === 'string') return [[[], item]];
  if (item && typeof item === 'object' && !Array.isArray(item))
    return Object.entries(item).flatMap(([k, v]) => (typeof v === 'string' ? [[[k], v] as [string[], string]] : []));
  return [];
}
