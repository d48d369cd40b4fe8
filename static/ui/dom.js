// Tiny DOM helpers shared by the pages (no inline styles: classes and data attributes).

/**
 * h('button', {class: 'x', dataset: {id: 1}, type: 'button', onclick: fn}, 'text', child)
 * @param {string} tag
 * @param {Object<string, *>} [props] attributes; `class`, `dataset`, `text` and `on*` listeners are special
 * @param {...(Node | string | number | null | undefined | false | Array<*>)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * svg('rect', {x: 0, class: 'seg'}, child): an SVG element; attributes as given.
 * @param {string} tag
 * @param {Object<string, *>} [attrs]
 * @param {...(Node | null | undefined | false | Array<*>)} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/**
 * The first element matching `selector` under `root` (the document by default).
 * @param {string} selector
 * @param {ParentNode} [root]
 * @returns {HTMLElement | null}
 */
export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * Set text only when it changed (cheap on hot paths).
 * @param {Element} el
 * @param {string} text
 * @returns {void}
 */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Set a data attribute only when it changed; null removes it.
 * @param {HTMLElement | SVGElement} el
 * @param {string} name camelCase (dataset) name
 * @param {string | number | null | undefined} value
 * @returns {void}
 */
export function setData(el, name, value) {
  if (value === null || value === undefined) {
    if (name in el.dataset) delete el.dataset[name];
  } else if (el.dataset[name] !== String(value)) {
    el.dataset[name] = String(value);
  }
}

/**
 * A status badge: coloured mark (shape differs per base) plus the status text.
 * @param {{base: string, text: string}} p a P or an agent view
 * @param {{showBase?: boolean, labels?: Object<string, string> | null}} [options]
 * @returns {HTMLElement}
 */
export function badge(p, { showBase = false, labels = null } = {}) {
  const el = h('span', { class: 'badge', dataset: { base: p.base } },
    h('span', { class: 'mark', 'aria-hidden': 'true' }),
    h('span', { class: 'badge-text', text: p.text }));
  if (showBase && labels) el.append(h('span', { class: 'badge-base', text: labels[p.base] }));
  return el;
}

/**
 * Polite announcements for screen readers.
 * @param {HTMLElement} region an aria-live region
 * @param {string} text
 * @returns {void}
 */
export function announce(region, text) {
  if (!text) return;
  region.textContent = '';
  // A new text node in a cleared region is reliably read out.
  setTimeout(() => { region.textContent = text; }, 50);
}
