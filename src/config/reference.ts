import { configOptions, type OptionInfo } from './index.js';

/** Sections by the key's first part; keys without a group are server and store options. */
const SECTIONS: Record<string, string> = { '': 'Server and store', tls: 'TLS', storage: 'Object storage', export: 'Export', auth: 'Authorization' };
const sectionOf = (key: string): string => (key.includes('.') ? (key.split('.')[0] as string) : '');

function formatDefault(o: OptionInfo): string {
  if (o.secret || o.default === undefined) return '—';
  return `\`${typeof o.default === 'string' ? o.default : JSON.stringify(o.default)}\``;
}

/** docs/configuration.md, generated from the configuration schema (`npm run docs:config`). */
export function configReference(): string {
  const options = configOptions();
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/index.ts by `npm run docs:config`; a test keeps it in step. -->',
    '',
    'Every option can be given, lowest precedence first, in a configuration file, in the environment, or (where it',
    'has one) as a flag of `flatfhir serve` and `flatfhir worker`. The configuration file is named by `--config FILE`',
    'or `FLATFHIR_CONFIG`; it is JSON (`.json`) or YAML, shaped like the keys below (`export.concurrency` is',
    '`{ "export": { "concurrency": 4 } }`), so every command of a deployment can read the same settings.',
    '',
  ];
  for (const section of [...new Set(options.map((o) => sectionOf(o.key)))]) {
    const rows = options.filter((o) => sectionOf(o.key) === section);
    const title = SECTIONS[section] ?? section;
    lines.push(`## ${title}`, '', '| key | environment | flag | default | meaning |', '|---|---|---|---|---|');
    for (const o of rows) {
      const env = o.env.map((e) => `\`${e}\``).join(', ');
      const flag = o.flag ? `\`${o.flag.split(',').pop()?.trim().split(' ')[0] ?? ''}\`` : '';
      lines.push(`| \`${o.key}\` | ${env} | ${flag} | ${formatDefault(o)} | ${o.description.replace(/\|/g, '\\|')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
