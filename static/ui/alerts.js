// How the agent page makes an offer noticed: a ring (Web Audio; on once the agent has
// interacted with the page, volume and mute remembered in localStorage), a browser
// notification while the tab is hidden (permission asked only from the visible button),
// and the controls for both.
import { $, setData, setText } from './dom.js';

const PREFS_KEY = 'presence.agent.alerts';

/**
 * The remembered sound settings.
 * @returns {{muted: boolean, volume: number}}
 */
export function loadAlertPrefs() {
  try {
    const raw = JSON.parse(localStorage.getItem(PREFS_KEY) ?? '{}');
    const volume = Number.isFinite(raw.volume) ? Math.min(1, Math.max(0, raw.volume)) : 0.6;
    return { muted: raw.muted === true, volume };
  } catch {
    return { muted: false, volume: 0.6 };
  }
}

/**
 * The ring, the notification and their controls.
 */
export class Alerts {
  /**
   * @param {(offerId: string) => void} onNotificationClick brings the offer into view
   */
  constructor(onNotificationClick) {
    this.prefs = loadAlertPrefs();
    this.audio = null;
    this.onNotificationClick = onNotificationClick;
    this.notifications = new Map();
    const wake = () => this.unlock();
    addEventListener('pointerdown', wake, { capture: true });
    addEventListener('keydown', wake, { capture: true });
    this.bindControls();
  }

  /** The first interaction allows sound (browsers start audio only after one). */
  unlock() {
    if (this.audio || typeof AudioContext === 'undefined') return;
    this.audio = new AudioContext();
    setData(document.body, 'sound', 'ready');
  }

  bindControls() {
    const mute = $('#alert-sound');
    const volume = $('#alert-volume');
    mute.checked = !this.prefs.muted;
    volume.value = String(Math.round(this.prefs.volume * 100));
    mute.addEventListener('change', () => this.save({ muted: !mute.checked }));
    volume.addEventListener('input', () => this.save({ volume: Number(volume.value) / 100 }));
    $('#alert-notify').addEventListener('click', () => this.askPermission());
    this.renderPermission();
  }

  save(change) {
    this.prefs = { ...this.prefs, ...change };
    localStorage.setItem(PREFS_KEY, JSON.stringify(this.prefs));
  }

  renderPermission() {
    const button = $('#alert-notify');
    const note = $('#alert-notify-state');
    const permission = typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
    setData(button, 'permission', permission);
    button.hidden = permission !== 'default';
    setText(note, {
      granted: 'Desktop notifications are on while this tab is hidden.',
      denied: 'Desktop notifications are blocked in this browser’s site settings.',
      unsupported: 'This browser cannot show desktop notifications.',
      default: '',
    }[permission]);
  }

  async askPermission() {
    if (typeof Notification === 'undefined') return;
    await Notification.requestPermission();
    this.renderPermission();
  }

  /**
   * A new offer: ring, and notify when the tab is hidden.
   * @param {{offerId: string}} offer
   * @param {string} title
   * @param {string} body
   * @returns {void}
   */
  offered(offer, title, body) {
    this.ring();
    if (document.hidden) this.notify(offer.offerId, title, body);
  }

  /**
   * The offer was answered or closed: take its notification away.
   * @param {string} offerId
   * @returns {void}
   */
  closed(offerId) {
    this.notifications.get(offerId)?.close();
    this.notifications.delete(offerId);
  }

  ring() {
    if (this.prefs.muted || !this.audio || this.prefs.volume === 0) return;
    const ctx = this.audio;
    if (ctx.state === 'suspended') ctx.resume();
    const start = ctx.currentTime;
    for (const [at, freq] of [[0, 880], [0.25, 660], [0.6, 880], [0.85, 660]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0, start + at);
      gain.gain.linearRampToValueAtTime(this.prefs.volume * 0.3, start + at + 0.02);
      gain.gain.linearRampToValueAtTime(0, start + at + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + at);
      osc.stop(start + at + 0.22);
    }
    const body = document.body.dataset;
    body.rings = String(Number(body.rings ?? 0) + 1);
  }

  notify(offerId, title, body) {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    try {
      const n = new Notification(title, { body, tag: offerId, requireInteraction: true });
      n.onclick = () => {
        focus();
        n.close();
        this.onNotificationClick(offerId);
      };
      this.notifications.set(offerId, n);
    } catch {
      // Some browsers allow notifications only from a service worker; the title still shows.
    }
  }
}
