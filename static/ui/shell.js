// What both pages share around the content: the connection pill, the reconnecting or
// stopped banner, and switching between the sign-in form and the page.
import { $, setData, setText } from './dom.js';
import { bindSignIn, forgetToken, loadToken } from './auth.js';
import { providerSignIn } from './sso.js';
import { secondsLeft } from '../js/time.js';

const PILL = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  stopped: 'Offline',
  signin: 'Signed out',
};

/**
 * What both pages share: connection pill, banner, sign-in form, token.
 */
export class Shell {
  /**
   * role: 'agent' | 'supervisor'; start(token) opens the connection.
   * @param {'agent' | 'supervisor'} role
   * @param {(token: string) => void} start
   */
  constructor(role, start) {
    this.role = role;
    this.start = start;
    this.channel = null;
    this.pill = $('#conn');
    this.banner = $('#banner');
    this.bannerTitle = $('#banner-title');
    this.bannerMessage = $('#banner-message');
    this.bannerAction = $('#banner-action');
    this.bannerAction.addEventListener('click', () => this.bannerClicked());
    bindSignIn($('#signin-form'), role, (token) => this.begin(token));
  }

  /** Begin with the token in the address bar or the tab's storage, else sign in through
   *  the identity provider when the server has one (ui/sso.js), else ask for a token. */
  async boot() {
    const token = loadToken(this.role);
    const begin = (t) => this.begin(t);
    if (await providerSignIn(this.role, token, begin, (t) => this.renewed(t))) return;
    if (token) this.begin(token);
    else this.askForToken();
  }

  /** A renewed token: used for reconnects and presented to the open socket. */
  renewed(token) {
    this.token = token;
    this.channel?.send({ type: 'reauth', token, ref: this.channel.nextRef('reauth') });
  }

  begin(token) {
    $('#signin').hidden = true;
    this.start(token);
  }

  askForToken(title = '', message = '') {
    forgetToken(this.role);
    this.channel?.stop(null);
    $('#main').hidden = true;
    $('#signin').hidden = false;
    $('#sign-out').hidden = true;
    setData(document.body, 'connectionState', 'signin');
    setText(this.pill, PILL.signin);
    this.showBanner(title, message, null);
    $('#token').focus();
  }

  /** Reflect the connection life cycle (js/link.js) on the page. */
  render(link) {
    setData(document.body, 'connectionState', link.phase);
    setData(this.pill, 'state', link.phase);
    setText(this.pill, PILL[link.phase] ?? link.phase);
    if (link.phase === 'reconnecting') {
      this.showBanner('Connection lost.', this.retryText(link), 'Retry now');
    } else if (link.phase === 'stopped' && link.stop) {
      if (link.stop.signIn) {
        this.askForToken(link.stop.title, link.stop.message);
        return;
      }
      this.showBanner(`${link.stop.title}.`, link.stop.message, 'Sign in again');
    } else if (link.phase === 'online' || link.phase === 'connecting') {
      this.showBanner('', '', null);
    }
  }

  retryText(link) {
    if (link.retryAt === null) return 'Trying to reach the server…';
    const s = secondsLeft(link.retryAt, Date.now());
    return s > 0 ? `Reconnecting in ${s} s (attempt ${link.attempt}).`
      : `Reconnecting (attempt ${link.attempt})…`;
  }

  /** Once a second: keep the retry countdown current. */
  tick() {
    const link = this.channel?.link;
    if (link?.phase === 'reconnecting') setText(this.bannerMessage, this.retryText(link));
  }

  showBanner(title, message, action) {
    this.banner.hidden = !title && !message;
    setData(this.banner, 'kind', this.channel?.link.phase ?? 'signin');
    setText(this.bannerTitle, title);
    setText(this.bannerMessage, message);
    this.bannerAction.hidden = !action;
    if (action) setText(this.bannerAction, action);
  }

  bannerClicked() {
    const link = this.channel?.link;
    if (link?.phase === 'reconnecting') this.channel.retryNow();
    else if (link?.phase === 'stopped') this.channel.restart();
  }
}
