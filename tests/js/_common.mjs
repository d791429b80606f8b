// Shared helpers for the conformance scripts: stdin, CLI flags, failing loudly.

/** Thrown for any stream the client (or a harness rule) rejects. */
export class Rejected extends Error {}

/** Read all of stdin as a UTF-8 string (rejecting invalid UTF-8). */
export async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Rejected('stdin is not valid UTF-8');
  }
}

/** Parse `--flag` / `--opt value` / `--opt=value` arguments against a spec. */
export function parseArgs(argv, { flags = [], options = {} }) {
  const out = {};
  for (const f of flags) out[f] = false;
  for (const [k, spec] of Object.entries(options)) out[k] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const name = arg.replace(/^--/, '');
    if (flags.includes(name) && value === undefined) {
      out[name] = true;
    } else if (name in options && arg.startsWith('--')) {
      if (value === undefined) value = argv[++i];
      if (!options[name].choices.includes(value)) {
        usage(`--${name} must be one of ${options[name].choices.join('|')}, got ${value}`);
      }
      out[name] = value;
    } else {
      usage(`unknown argument ${argv[i]}`);
    }
  }
  return out;
}

function usage(message) {
  process.stderr.write(`usage error: ${message}\n`);
  process.exit(2);
}

/** JSON.stringify that keeps NaN/undefined visible instead of silently dropping them. */
export function toJson(value) {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (v instanceof Date) return v.toISOString();
    return v;
  });
}

/** Run `main`, print its result as one JSON line, or print the rejection and exit 1. */
export async function run(main) {
  let result;
  try {
    result = await main();
  } catch (err) {
    const kind = err instanceof Rejected ? 'REJECTED' : 'CLIENT ERROR';
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`${kind}: ${err instanceof Error ? err.message : String(err)}\n`);
    if (!(err instanceof Rejected)) process.stderr.write(`${detail}\n`);
    if (err?.cause) process.stderr.write(`cause: ${err.cause?.message ?? err.cause}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${toJson(result)}\n`);
}

export function describe(value, max = 200) {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
