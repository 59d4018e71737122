// The browser every UI script drives: Debian's headless Chromium through Playwright's driver
// (playwright-core: no browser download), launched with the flags this machine needs, and a page
// signed in to Airflow's UI. One place, so the scripts cannot drift apart.
import { chromium } from "playwright-core";

// How long any one step (a navigation, a click, a wait for text) may take.
export const TIMEOUT = 60_000;

// No sandbox as root, and no background traffic to Google's hosts (the closed network refuses it).
// Playwright gives each launch a new empty --user-data-dir.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// extraFlags: what one script needs on top (the view's script lets videos autoplay).
export function launch(extraFlags = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [...FLAGS, ...extraFlags],
  });
}

// A page of a new context signed in as the UI's login does: the JWT as the `_token` cookie.
export async function signedInPage(browser, { url, token }, viewport) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(TIMEOUT);
  await context.addCookies([{ name: "_token", value: token, url }]);
  return context.newPage();
}
