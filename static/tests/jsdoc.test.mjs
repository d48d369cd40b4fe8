// Every exported function of js/ and ui/ carries JSDoc types: an @param {type} for each
// parameter and an @returns {type} when it returns a value; exported classes document
// their constructor's parameters the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const STATIC = join(dirname(fileURLToPath(import.meta.url)), '..');
const FILES = ['js', 'ui'].flatMap((dir) => readdirSync(join(STATIC, dir))
  .filter((f) => f.endsWith('.js')).map((f) => join(dir, f)));

/** Split `a, {b, c} = {}, d = f(1, 2)` at its top-level commas. */
function topLevelParts(text) {
  const parts = [];
  let depth = 0;
  let part = '';
  for (const ch of text) {
    if ('([{'.includes(ch)) depth += 1;
    if (')]}'.includes(ch)) depth -= 1;
    if (ch === ',' && depth === 0) {
      parts.push(part);
      part = '';
    } else part += ch;
  }
  parts.push(part);
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** The parameter list starting at `open` (the index of its '('): [text, index after ')']. */
function paramList(src, open) {
  let depth = 0;
  for (let i = open; i < src.length; i += 1) {
    if (src[i] === '(') depth += 1;
    if (src[i] === ')') {
      depth -= 1;
      if (depth === 0) return [src.slice(open + 1, i), i + 1];
    }
  }
  throw new Error('unbalanced parameter list');
}

/** The text of the block `{ … }` that starts at or after `from`. */
function body(src, from) {
  const open = src.indexOf('{', from);
  let depth = 0;
  for (let i = open; i < src.length; i += 1) {
    if (src[i] === '{') depth += 1;
    if (src[i] === '}') {
      depth -= 1;
      if (depth === 0) return src.slice(open, i + 1);
    }
  }
  throw new Error('unbalanced body');
}

/** The `/** … *\/` comment that ends right before `index` (blank space only between). */
function docBefore(src, index) {
  const before = src.slice(0, index).trimEnd();
  if (!before.endsWith('*/')) return null;
  const start = before.lastIndexOf('/**');
  return start < 0 ? null : before.slice(start);
}

/** [type, name] of every @param tag of `doc` (types may nest braces). */
function paramTags(doc) {
  const tags = [];
  for (const m of doc.matchAll(/@param\s+/g)) {
    let i = m.index + m[0].length;
    let type = '';
    if (doc[i] === '{') {
      let depth = 0;
      const start = i;
      for (; i < doc.length; i += 1) {
        if (doc[i] === '{') depth += 1;
        if (doc[i] === '}') depth -= 1;
        if (depth === 0) break;
      }
      type = doc.slice(start, i + 1);
      i += 1;
    }
    const name = /^\s*\[?([\w$.]+)/.exec(doc.slice(i));
    tags.push([type, name ? name[1] : '']);
  }
  return tags;
}

/** Problems with `doc` for a function with parameters `params` and body `text`. */
function problems(name, doc, params, text, { needsReturns = true } = {}) {
  // A constructor without parameters needs no comment; anything else does.
  if (doc === null) return needsReturns || params.length ? [`${name}: no JSDoc comment`] : [];
  const out = [];
  const tags = paramTags(doc);
  for (const [type] of tags) if (!type) out.push(`${name}: @param without a {type}`);
  const named = new Set(tags.map(([, n]) => n.split('.')[0]));
  const topLevel = tags.filter(([, n]) => !n.includes('.')).length;
  if (topLevel !== params.length) out.push(`${name}: ${params.length} parameters, ${topLevel} @param`);
  for (const p of params) {
    const id = p.replace(/^\.\.\./, '').split('=')[0].trim();
    if (/^[\w$]+$/.test(id) && !named.has(id)) out.push(`${name}: no @param for ${id}`);
  }
  const returnsValue = /\breturn\s+[^;\s]/.test(text) || /^\s*\(.*\)\s*=>\s*[^{]/s.test(text);
  if (needsReturns && returnsValue && !/@returns?\s+\{[^}]+\}/.test(doc)) {
    out.push(`${name}: returns a value without @returns {type}`);
  }
  return out;
}

function checkFile(file) {
  const src = readFileSync(join(STATIC, file), 'utf8');
  const found = [];
  for (const m of src.matchAll(/^export (?:async )?function ([\w$]+)\s*\(/gm)) {
    const [params, after] = paramList(src, m.index + m[0].length - 1);
    found.push(...problems(`${file} ${m[1]}`, docBefore(src, m.index), topLevelParts(params),
      body(src, after)));
  }
  for (const m of src.matchAll(/^export const ([\w$]+) = \(/gm)) {
    const [params, after] = paramList(src, m.index + m[0].length - 1);
    found.push(...problems(`${file} ${m[1]}`, docBefore(src, m.index), topLevelParts(params),
      `(${params}) ${src.slice(after, src.indexOf('\n', after))}`));
  }
  for (const m of src.matchAll(/^export class ([\w$]+)/gm)) {
    if (docBefore(src, m.index) === null) found.push(`${file} ${m[1]}: no JSDoc comment`);
    const ctor = src.indexOf('  constructor(', m.index);
    if (ctor < 0) continue;
    const [params] = paramList(src, src.indexOf('(', ctor));
    found.push(...problems(`${file} ${m[1]}.constructor`, docBefore(src, ctor),
      topLevelParts(params), '', { needsReturns: false }));
  }
  return found;
}

test('every exported function of js/ and ui/ has typed @param and @returns tags', () => {
  const found = FILES.flatMap(checkFile);
  assert.deepEqual(found, []);
});

test('the check finds an undocumented parameter and an untyped return', () => {
  const src = '/** Adds. */\nexport function add(a, b) {\n  return a + b;\n}\n';
  const m = /^export function (\w+)\s*\(/m.exec(src);
  const [params, after] = paramList(src, m.index + m[0].length - 1);
  assert.deepEqual(problems('add', docBefore(src, m.index), topLevelParts(params), body(src, after)), [
    'add: 2 parameters, 0 @param', 'add: no @param for a', 'add: no @param for b',
    'add: returns a value without @returns {type}',
  ]);
});
