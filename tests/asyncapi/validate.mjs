// Parse an AsyncAPI document with the official parser; exit 1 on any error diagnostic.
//   node validate.mjs <document.json>
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const path = process.argv[2];
if (!path) {
  console.error('usage: node validate.mjs <document.json>');
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(path, 'utf8'));
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
for (const d of diagnostics) {
  const where = d.path.join('/');
  console.log(`${DiagnosticSeverity[d.severity]} ${d.code} at /${where}: ${d.message}`);
}
if (errors.length > 0 || document === undefined) {
  console.error(`${errors.length} error(s): not a valid AsyncAPI document`);
  process.exit(1);
}
console.log(`valid AsyncAPI ${document.version()}: ${document.allChannels().length} channels, `
  + `${document.allMessages().length} messages`);
