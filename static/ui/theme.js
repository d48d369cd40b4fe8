// The colour theme: follows the system (prefers-color-scheme) until the user picks one
// with the switch in the top bar; the choice is remembered in localStorage. Loaded by
// every page; it adds its own button, so a page needs only the script tag.
import { h } from './dom.js';

const KEY = 'presence.theme';
const dark = matchMedia('(prefers-color-scheme: dark)');

/**
 * The theme in force: the remembered choice, else the system's.
 * @returns {'light' | 'dark'}
 */
export function currentTheme() {
  const chosen = localStorage.getItem(KEY);
  if (chosen === 'light' || chosen === 'dark') return chosen;
  return dark.matches ? 'dark' : 'light';
}

function apply(button) {
  const theme = currentTheme();
  const chosen = localStorage.getItem(KEY);
  if (chosen) document.documentElement.dataset.theme = chosen;
  else delete document.documentElement.dataset.theme;
  document.body.dataset.theme = theme;
  if (!button) return;
  button.setAttribute('aria-pressed', String(theme === 'dark'));
  button.textContent = 'Dark mode';
}

const button = h('button', {
  type: 'button', class: 'btn btn-small btn-quiet theme-switch', id: 'theme-switch',
  onclick: () => {
    localStorage.setItem(KEY, currentTheme() === 'dark' ? 'light' : 'dark');
    apply(button);
  },
});
document.querySelector('.topbar')?.append(button);
dark.addEventListener('change', () => apply(button));
// Another tab of the site switched: follow it.
addEventListener('storage', (event) => { if (event.key === KEY) apply(button); });
apply(button);
